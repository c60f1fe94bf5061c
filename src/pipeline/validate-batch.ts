/**
 * The validator's use case: classify every record of a stream batch, store the valid ones in
 * one batched write, send the rejected ones to the errors queue, and report which records are
 * not yet durable so the event source retries them (`ReportBatchItemFailures`).
 *
 * A record is acknowledged only when its row is committed or its DLQ message is accepted.
 * Nothing here throws for a record's content; only the ports' infrastructure failures
 * surface, and those become item failures too.
 */
import type { ErrorQueue, PipelineStore, ReadingsWrite } from '#domain/ports.js';
import type { ErrorRecord, ErrorType } from '#domain/reading.js';
import type { PositionedRecord } from '#domain/stream.js';
import { batchClassifier, type ClassifiedBatch } from './classify-batch.js';
import { describeError } from './describe-error.js';

export interface ValidateBatchDeps {
  readonly store: PipelineStore;
  readonly errorQueue: ErrorQueue;
  readonly payloadCapBytes: number;
  readonly now?: () => Date;
}

export interface BatchOutcome {
  readonly received: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly rejectedByType: Readonly<Partial<Record<ErrorType, number>>>;
  /** Sequence numbers of records that are not durable; the event source must retry them. */
  readonly failedSequenceNumbers: readonly string[];
  /** Infrastructure failures met, for the log. */
  readonly problems: readonly string[];
}

/**
 * Records classified between two turns of the event loop. Small enough that the database starts
 * on the first rows early and the socket's replies are read between chunks, large enough that
 * the turns cost nothing next to the classification (about 0.7 ms per chunk here).
 */
export const CHUNK_RECORDS = 100;

/** Lets pending I/O run (the COPY's replies, the socket's drain) before the next chunk. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Classifies the records chunk by chunk into one streamed write of the store: while this thread
 * decodes, parses and validates the next chunk, the database parses and indexes the previous
 * one. The rows written are the batch's rows, in order.
 */
async function classifyInto(
  records: readonly PositionedRecord[],
  write: ReadingsWrite,
  options: { readonly payloadCapBytes: number; readonly now: Date },
): Promise<ClassifiedBatch> {
  const batch = batchClassifier(options);
  for (let start = 0; start < records.length; start += CHUNK_RECORDS) {
    if (start > 0) await nextTurn();
    write.write(batch.add(records.slice(start, start + CHUNK_RECORDS)));
  }
  return batch;
}

export async function validateBatch(
  records: readonly PositionedRecord[],
  deps: ValidateBatchDeps,
): Promise<BatchOutcome> {
  const now = (deps.now ?? (() => new Date()))();
  const write = deps.store.openReadings();
  const batch = await classifyInto(records, write, { payloadCapBytes: deps.payloadCapBytes, now });
  const { rows } = batch;
  const rejections = batch.rejections.slice();

  const failed = new Set<string>();
  const problems: string[] = [];
  let stored = 0;
  let duplicates = 0;

  const sendRejections = async (errors: readonly ErrorRecord[]): Promise<void> => {
    if (errors.length === 0) return;
    try {
      const { unsent } = await deps.errorQueue.send(errors);
      for (const e of unsent) failed.add(e.position.sequenceNumber);
      if (unsent.length > 0) problems.push(`${unsent.length} rejection(s) could not be sent to the errors queue`);
    } catch (error) {
      for (const e of errors) failed.add(e.position.sequenceNumber);
      problems.push(`errors queue: ${describeError(error)}`);
    }
  };

  const storeReadings = async (): Promise<void> => {
    if (rows.length === 0) return;
    try {
      const result = await write.end();
      stored = result.inserted;
      duplicates = result.duplicates;
      // Content the database refused becomes a rejection like any other, so it is kept.
      const refusedAsErrors = batch.rejectionsFor(result.refused);
      rejections.push(...refusedAsErrors);
      await sendRejections(refusedAsErrors);
    } catch (error) {
      for (const row of rows) failed.add(row.position.sequenceNumber);
      problems.push(`database: ${describeError(error)}`);
    }
  };

  // The COPY's data is all written: end it first, then send the rejections, so the queue's CPU
  // work (packing, the SQS client) runs while the server finishes and commits, not before it.
  await Promise.all([storeReadings(), sendRejections(batch.rejections)]);

  const rejectedByType: Partial<Record<ErrorType, number>> = {};
  for (const e of rejections) rejectedByType[e.errorType] = (rejectedByType[e.errorType] ?? 0) + 1;

  return {
    received: records.length,
    stored,
    duplicates,
    rejected: rejections.length,
    rejectedByType,
    failedSequenceNumbers: records.map((r) => r.position.sequenceNumber).filter((s) => failed.has(s)),
    problems,
  };
}
