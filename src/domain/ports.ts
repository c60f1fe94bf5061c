/**
 * The ports the pipeline's use cases need. Adapters in src/adapters implement them with
 * PostgreSQL, SQS and Kinesis; the domain never imports those libraries.
 */
import type { ErrorRecord, ReadingRow } from './reading.js';

export interface RefusedReading {
  readonly row: ReadingRow;
  /** The database's reason, e.g. a constraint it violated. */
  readonly reason: string;
}

export interface ReadingWriteResult {
  readonly inserted: number;
  /** Rows already stored (same stream position or same reading_id): redeliveries. */
  readonly duplicates: number;
  /** Rows the database refused for their content; the caller must route them elsewhere. */
  readonly refused: readonly RefusedReading[];
}

export interface ErrorWriteResult {
  readonly inserted: number;
  readonly duplicates: number;
  /** Indexes (into the input) of records the database refused for their content. */
  readonly refused: readonly { readonly index: number; readonly reason: string }[];
}

export interface PipelineStore {
  /** Durable and idempotent: when it resolves, every row not refused is committed. */
  insertReadings(rows: readonly ReadingRow[]): Promise<ReadingWriteResult>;
  insertErrors(errors: readonly ErrorRecord[]): Promise<ErrorWriteResult>;
}

export interface ErrorQueue {
  /**
   * Sends each rejection as one message, retrying failed entries. Resolves with the records
   * that could still not be sent (their stream records must be retried).
   */
  send(errors: readonly ErrorRecord[]): Promise<{ readonly unsent: readonly ErrorRecord[] }>;
}
