/**
 * Classification of a batch of stream records into storable readings and rejections, shared
 * by the validator and by the drainer's replay of failed-batch ranges, so both land a record
 * the same way.
 */
import { buildErrorRecord } from '#domain/error-record.js';
import type { RefusedReading } from '#domain/ports.js';
import type { ErrorRecord, ReadingRow } from '#domain/reading.js';
import type { PositionedRecord } from '#domain/stream.js';
import { classifyRecord } from '#domain/validation.js';

export interface ClassifiedBatch {
  readonly rows: ReadingRow[];
  readonly rejections: ErrorRecord[];
  /**
   * Turns readings the database refused into SCHEMA_ERROR rejections carrying the original
   * bytes, so that content PostgreSQL will not store is still kept, with the reason.
   */
  rejectionsFor(refused: readonly RefusedReading[]): ErrorRecord[];
}

/** A batch classified chunk by chunk: each chunk's rows as it is added, and the whole batch's so far. */
export interface BatchClassifier extends ClassifiedBatch {
  /** Classifies the next records of the batch; returns the rows among them. */
  add(records: readonly PositionedRecord[]): ReadingRow[];
}

export function batchClassifier(options: { readonly payloadCapBytes: number; readonly now: Date }): BatchClassifier {
  const rows: ReadingRow[] = [];
  const rejections: ErrorRecord[] = [];
  const dataBySequence = new Map<string, Uint8Array>();
  return {
    rows,
    rejections,
    add: (records) => {
      const added: ReadingRow[] = [];
      for (const record of records) {
        const result = classifyRecord(record.data, record.position, options);
        if (result.kind === 'reading') {
          added.push(result.row);
          rows.push(result.row);
          dataBySequence.set(record.position.sequenceNumber, record.data);
        } else {
          rejections.push(result.error);
        }
      }
      return added;
    },
    rejectionsFor: (refused) =>
      refused.map(({ row, reason }) =>
        buildErrorRecord({
          errorType: 'SCHEMA_ERROR',
          errorMessage: `refused by the database: ${reason}`,
          data: dataBySequence.get(row.position.sequenceNumber) ?? new Uint8Array(),
          payloadCapBytes: options.payloadCapBytes,
          position: row.position,
          parsed: { sensor_id: row.sensorId, reading_id: row.readingId },
          errorTime: options.now,
        }),
      ),
  };
}

export function classifyBatch(
  records: readonly PositionedRecord[],
  options: { readonly payloadCapBytes: number; readonly now: Date },
): ClassifiedBatch {
  const batch = batchClassifier(options);
  batch.add(records);
  return batch;
}
