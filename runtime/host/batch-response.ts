/**
 * Reading a function's partial batch response (`ReportBatchItemFailures`) the way Lambda does.
 *
 * Lambda treats the whole batch as failed when the response names an item it cannot use (an
 * empty, null or unknown `itemIdentifier`); an absent or empty `batchItemFailures` is success.
 * Anything else that is not an object (a string, a number) also means success, as on AWS.
 */

export type BatchVerdict =
  | { readonly kind: 'success' }
  /** Items failed; `failed` are the indexes (in batch order) of the named items. */
  | { readonly kind: 'partial'; readonly failed: readonly number[] }
  | { readonly kind: 'invalid'; readonly reason: string };

export function readBatchResponse(payload: unknown, identifiers: readonly string[]): BatchVerdict {
  if (payload === null || typeof payload !== 'object') return { kind: 'success' };
  const failures = (payload as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid', reason: 'batchItemFailures is not an array' };
  if (failures.length === 0) return { kind: 'success' };
  const index = new Map(identifiers.map((id, i) => [id, i]));
  const failed = new Set<number>();
  for (const item of failures) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '')
      return { kind: 'invalid', reason: 'an itemIdentifier is empty or not a string' };
    const i = index.get(id);
    if (i === undefined) return { kind: 'invalid', reason: `itemIdentifier ${id} is not in the batch` };
    failed.add(i);
  }
  return { kind: 'partial', failed: [...failed].sort((a, b) => a - b) };
}
