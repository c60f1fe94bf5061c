/**
 * The decisions of the Kinesis event source mapping, as pure functions of the batch, its
 * outcome and its attempt history, so every case AWS documents is unit-tested without a stream,
 * a clock or a function (test/unit/runtime-kinesis-policy.test.ts). kinesis-source.ts does the
 * I/O (GetRecords, Invoke, SendMessage, checkpoint writes) and asks these functions what to do.
 *
 * AWS's rules, as configured by the topology's `KinesisSourceSpec`:
 * - `parallelizationFactor` lanes per shard; a record's lane is a hash of its partition key,
 *   so records of one key stay in order;
 * - a batch holds at most `batchSize` records and fits Lambda's 6 MB payload;
 * - records older than `maxRecordAgeSeconds` are not invoked: they go to the on-failure
 *   destination (`RecordAgeExceeded`) and count as handled;
 * - a partial batch response (`ReportBatchItemFailures`) checkpoints the records before the
 *   lowest failed one and retries from it;
 * - a failed batch (function error, or an unusable partial response) is split in two when
 *   `bisectBatchOnError` is set; splitting does not use up a retry attempt;
 * - after `retryAttempts` retries (-1: no limit) the rest goes to the on-failure destination
 *   (`RetryAttemptsExhausted`), then counts as handled;
 * - a function that could not start (its init failed, timed out or crashed) never saw the batch:
 *   the whole batch is retried after a back-off, neither split nor charged a retry attempt, until
 *   it starts or the records expire (a decision: splitting would only multiply the cold starts
 *   that failed, which is how a loaded host once stalled for minutes).
 */
import { createHash } from 'node:crypto';
import { exponentialDelayMs } from '#adapters/retry.js';
import type { StreamRecord } from '#domain/stream.js';
import type { KinesisSourceSpec } from '#topology.js';
import { readBatchResponse } from './batch-response.js';
import type { InvocationOutcome } from './protocol.js';

/** The parts of an event source mapping's configuration the decisions depend on. */
export type KinesisPolicy = Pick<
  KinesisSourceSpec,
  'retryAttempts' | 'maxRecordAgeSeconds' | 'bisectBatchOnError' | 'reportBatchItemFailures'
>;

/** What became of one invocation of a batch. */
export type BatchOutcome =
  | { readonly kind: 'success' }
  /** The function named failed items; `firstFailed` is the lowest index among them. */
  | { readonly kind: 'partial'; readonly firstFailed: number }
  /** The function failed (error, timeout, crash) or answered a partial response Lambda rejects. */
  | { readonly kind: 'error' }
  /** The function's container never became ready: the batch was not delivered. */
  | { readonly kind: 'not-started' };

/**
 * What to do next with a batch. `acknowledge` counts the leading records that are done (their
 * checkpoint may advance); what follows them is retried, bisected or given up on.
 */
export type BatchDecision =
  | { readonly action: 'done'; readonly acknowledge: number }
  | { readonly action: 'retry'; readonly acknowledge: number; readonly attempts: number }
  /** The function did not start: retry the whole batch after a back-off, attempts unchanged. */
  | { readonly action: 'wait'; readonly acknowledge: 0; readonly attempts: number }
  /** Process `[0, at)` then `[at, length)`, each starting from `attempts` failed tries. */
  | { readonly action: 'bisect'; readonly at: number; readonly attempts: number }
  /** Send an on-failure notice for the records after `acknowledge`, then acknowledge them too. */
  | {
      readonly action: 'give-up';
      readonly acknowledge: number;
      readonly attempts: number;
      readonly condition: 'RetryAttemptsExhausted';
    };

/** Lane of a partition key: a stable hash, so one key always lands in the same lane. */
export function laneFor(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % lanes;
}

/** Lambda's synchronous invocation payload limit; the event source cuts batches to fit it. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
/** JSON around one record's data in a KinesisStreamEvent (ARNs, ids, field names), generously. */
const RECORD_OVERHEAD_BYTES = 600;

/**
 * How many of the waiting records form the next batch: at most `batchSize`, and no more than
 * fit in a 6 MB event (base64 data plus the record's envelope). Always at least one record.
 */
export function batchLength(waiting: readonly Pick<StreamRecord, 'data'>[], batchSize: number): number {
  let bytes = 0;
  let n = 0;
  for (const record of waiting) {
    if (n >= batchSize) break;
    bytes += Math.ceil(record.data.length / 3) * 4 + RECORD_OVERHEAD_BYTES;
    if (n > 0 && bytes > MAX_EVENT_BYTES) break;
    n++;
  }
  return Math.max(1, n);
}

/**
 * How many leading records of a batch are older than `maxRecordAgeSeconds` at `nowMs` (-1: no
 * limit). Records arrive in order within a lane, so the expired ones form a prefix.
 */
export function expiredPrefix(
  records: readonly Pick<StreamRecord, 'approximateArrivalMs'>[],
  policy: Pick<KinesisPolicy, 'maxRecordAgeSeconds'>,
  nowMs: number,
): number {
  if (policy.maxRecordAgeSeconds < 0) return 0;
  const cutoff = nowMs - policy.maxRecordAgeSeconds * 1000;
  let k = 0;
  while (k < records.length && (records[k] as Pick<StreamRecord, 'approximateArrivalMs'>).approximateArrivalMs < cutoff)
    k++;
  return k;
}

/** Reads an invocation's outcome as Lambda does, given the batch's sequence numbers. */
export function batchOutcome(
  outcome: InvocationOutcome,
  sequenceNumbers: readonly string[],
  policy: Pick<KinesisPolicy, 'reportBatchItemFailures'>,
): BatchOutcome {
  if (!outcome.ok) return outcome.initError ? { kind: 'not-started' } : { kind: 'error' };
  if (!policy.reportBatchItemFailures) return { kind: 'success' };
  const verdict = readBatchResponse(outcome.payload, sequenceNumbers);
  if (verdict.kind === 'success') return { kind: 'success' };
  if (verdict.kind === 'invalid') return { kind: 'error' };
  return { kind: 'partial', firstFailed: verdict.failed[0] ?? 0 };
}

/**
 * The decision after one invocation of a batch of `length` records whose earlier invocations
 * failed `attempts` times (bisected halves inherit their parent's count).
 */
export function decide(outcome: BatchOutcome, length: number, attempts: number, policy: KinesisPolicy): BatchDecision {
  if (outcome.kind === 'success') return { action: 'done', acknowledge: length };
  if (outcome.kind === 'not-started') return { action: 'wait', acknowledge: 0, attempts };
  const acknowledge = outcome.kind === 'partial' ? outcome.firstFailed : 0;
  if (outcome.kind === 'error' && policy.bisectBatchOnError && length > 1)
    return { action: 'bisect', at: Math.ceil(length / 2), attempts };
  const next = attempts + 1;
  if (policy.retryAttempts >= 0 && next > policy.retryAttempts)
    return { action: 'give-up', acknowledge, attempts: next, condition: 'RetryAttemptsExhausted' };
  return { action: 'retry', acknowledge, attempts: next };
}

/** Lambda's delay before retry `attempt` (1-based): exponential from 100 ms, at most 5 s. */
export function defaultRetryDelayMs(attempt: number): number {
  return exponentialDelayMs(attempt - 1, { baseMs: 100, maxMs: 5_000 });
}
