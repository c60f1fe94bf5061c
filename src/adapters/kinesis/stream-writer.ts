/**
 * Writes records to a Kinesis stream with `PutRecords`.
 *
 * A `PutRecords` call is not atomic: it can succeed while some of its entries fail (most often
 * `ProvisionedThroughputExceededException` when a shard is hot). Re-sending the whole call
 * would duplicate the entries that did land, so only the failed entries are sent again, with
 * backoff (src/adapters/retry.ts). The pipeline would absorb duplicates through `reading_id`,
 * but malformed records have no readable id and would land twice.
 *
 * Calls go out one after another, not in parallel: a shard accepts 1,000 records or 1 MiB per
 * second, so parallel calls mostly turn into throttled entries, and sequential calls keep a
 * sensor's records in order whenever nothing has to be retried.
 */
import { PutRecordsCommand, type PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { packByCountAndBytes } from '#adapters/batching.js';
import { type BackoffOptions, retryFailedEntries } from '#adapters/retry.js';
import type { FailedRecord, OutgoingRecord, StreamWriter, WriteResult } from '#domain/ports.js';

/** Kinesis limits for one PutRecords request (AWS API reference). */
export const MAX_RECORDS_PER_CALL = 500;
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;

/** The one SDK operation this adapter needs; a KinesisClient fits, and so does a test fake. */
export interface PutRecordsSender {
  send(command: PutRecordsCommand): Promise<Pick<PutRecordsCommandOutput, 'Records'>>;
}

/** Size PutRecords counts against the 5 MiB limit: data plus the partition key's UTF-8 bytes. */
function requestBytes(record: OutgoingRecord): number {
  return record.data.length + Buffer.byteLength(record.partitionKey, 'utf8');
}

/** Splits records into PutRecords-sized chunks, by count and by bytes, keeping their order. */
export function chunkForPutRecords<T extends OutgoingRecord>(
  records: readonly T[],
  limits: { readonly maxRecords: number; readonly maxBytes: number } = {
    maxRecords: MAX_RECORDS_PER_CALL,
    maxBytes: MAX_BYTES_PER_CALL,
  },
): T[][] {
  return packByCountAndBytes(records, requestBytes, { maxItems: limits.maxRecords, maxBytes: limits.maxBytes });
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'UnknownError';
}

export class KinesisStreamWriter implements StreamWriter {
  constructor(
    private readonly kinesis: PutRecordsSender,
    private readonly streamName: string,
    private readonly backoff: BackoffOptions = { attempts: 6, baseMs: 100, maxMs: 2_000 },
  ) {}

  async write<T extends OutgoingRecord>(records: readonly T[]): Promise<WriteResult<T>> {
    const failed: FailedRecord<T>[] = [];
    let calls = 0;
    for (const chunk of chunkForPutRecords(records)) {
      // The latest reason each entry failed, so a record that never landed says why.
      const reasons = new Map<T, { errorCode: string; errorMessage: string }>();
      const result = await retryFailedEntries(
        chunk,
        async (pending) => {
          calls++;
          return this.putRecords(pending, reasons);
        },
        this.backoff,
      );
      for (const record of result.failed) {
        const reason = reasons.get(record) ?? {
          errorCode: errorName(result.lastError),
          errorMessage: result.lastError instanceof Error ? result.lastError.message : String(result.lastError),
        };
        failed.push({ record, ...reason });
      }
    }
    return { sent: records.length - failed.length, failed, calls };
  }

  /** One PutRecords call; resolves with the entries that failed (response entries are positional). */
  private async putRecords<T extends OutgoingRecord>(
    pending: readonly T[],
    reasons: Map<T, { errorCode: string; errorMessage: string }>,
  ): Promise<readonly T[]> {
    for (const record of pending) reasons.delete(record); // a thrown call leaves no stale entry reason
    const out = await this.kinesis.send(
      new PutRecordsCommand({
        StreamName: this.streamName,
        Records: pending.map((r) => ({
          PartitionKey: r.partitionKey,
          Data: r.data,
          ...(r.explicitHashKey === undefined ? {} : { ExplicitHashKey: r.explicitHashKey }),
        })),
      }),
    );
    const entries = out.Records ?? [];
    const stillFailed: T[] = [];
    pending.forEach((record, i) => {
      const entry = entries[i];
      // Only a sequence number confirms a write; an entry without one is failed, never sent.
      if (entry === undefined || entry.ErrorCode || !entry.SequenceNumber) {
        reasons.set(record, {
          errorCode: entry?.ErrorCode ?? 'MissingResultEntry',
          errorMessage: entry?.ErrorMessage ?? 'PutRecords returned no result for this entry',
        });
        stillFailed.push(record);
      }
    });
    return stillFailed;
  }
}
