/**
 * Packing items into request-sized groups for the AWS batch APIs, which cap both the number of
 * entries and the bytes per call (PutRecords: 500 and 5 MiB; SendMessageBatch: 10 and 256 KiB).
 * Order is kept; an item larger than the byte cap still gets a group of its own, so the API,
 * not this function, reports it.
 */
export interface BatchLimits {
  readonly maxItems: number;
  readonly maxBytes: number;
}

export function packByCountAndBytes<T>(items: readonly T[], sizeOf: (item: T) => number, limits: BatchLimits): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length === limits.maxItems || (current.length > 0 && bytes + size > limits.maxBytes)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
