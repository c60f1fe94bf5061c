/**
 * The ports the pipeline's use cases need. Adapters in src/adapters implement them with
 * PostgreSQL, SQS and Kinesis; the domain never imports those libraries.
 */
import type { AlertEvent } from './alert-event.js';
import type { ErrorRecord, ReadingRow } from './reading.js';
import type { PositionedRecord } from './stream.js';

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

/**
 * One batched write of readings fed chunk by chunk, so the caller's CPU work on the next chunk
 * overlaps the database's on the previous one. Nothing is committed before `end()` resolves.
 */
export interface ReadingsWrite {
  /** Adds rows to the write (they may be on their way to the database at once). */
  write(rows: readonly ReadingRow[]): void;
  /**
   * Ends the write: durable and idempotent as {@link PipelineStore.insertReadings} for every row
   * written. Rejects on an infrastructure failure (then none of them is acknowledged).
   */
  end(): Promise<ReadingWriteResult>;
}

export interface PipelineStore {
  /** Durable and idempotent: when it resolves, every row not refused is committed. */
  insertReadings(rows: readonly ReadingRow[]): Promise<ReadingWriteResult>;
  /** The same as {@link insertReadings}, with the rows given chunk by chunk. */
  openReadings(): ReadingsWrite;
  insertErrors(errors: readonly ErrorRecord[]): Promise<ErrorWriteResult>;
}

export interface ErrorQueue {
  /**
   * Sends each rejection as one message, retrying failed entries. Resolves with the records
   * that could still not be sent (their stream records must be retried).
   */
  send(errors: readonly ErrorRecord[]): Promise<{ readonly unsent: readonly ErrorRecord[] }>;
}

/** Reads records back from the stream, for failure notices that name a range, not records. */
export interface StreamReader {
  /**
   * The records of one shard with start <= sequence number <= end, in order. `complete` is
   * false when the stream no longer holds the start of the range (trimmed or expired).
   */
  readRange(range: {
    readonly streamName: string;
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
  }): Promise<{
    readonly records: readonly PositionedRecord[];
    readonly complete: boolean;
  }>;
}

export interface OutgoingRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
  /**
   * Picks the shard instead of the partition key's hash (a 128-bit decimal). The Kafka door
   * uses it so its partition key can carry the record's Kafka origin.
   */
  readonly explicitHashKey?: string | undefined;
}

export interface FailedRecord<T extends OutgoingRecord> {
  readonly record: T;
  /** The entry's last ErrorCode, or the name of the error the whole call threw. */
  readonly errorCode: string;
  readonly errorMessage: string;
}

export interface WriteResult<T extends OutgoingRecord> {
  readonly sent: number;
  readonly failed: readonly FailedRecord<T>[];
  /** Write calls made, retries included: how hard the stream pushed back. */
  readonly calls: number;
}

/** Writes records to the stream, for the producer. */
export interface StreamWriter {
  /**
   * Writes every record, retrying only the ones the stream refused, so none lands twice.
   * Resolves (never rejects for a refused record) with the records that still failed.
   */
  write<T extends OutgoingRecord>(records: readonly T[]): Promise<WriteResult<T>>;
}

export interface WindowRecomputation {
  /** Marks claimed; fewer than the limit means none was left. */
  readonly claimed: number;
  /** Windows upserted. */
  readonly windows: number;
  readonly readings: number;
}

export interface AggregationStore {
  /**
   * Claims up to `limit` windows marked as having received readings, recomputes them from
   * sensor_readings and upserts them, in one transaction. Resolves with zeros when none is
   * marked.
   */
  recomputeMarkedWindows(limit: number): Promise<WindowRecomputation>;
}

/**
 * Reading-alert events that have not been published yet (issue 10): the database keeps, per
 * event, whether it went out, so a run that crashes or cannot publish leaves its events for the
 * next run (at least once, never lost).
 */
export interface AlertOutbox {
  /** Up to `limit` unpublished events, oldest alert first (an alert's opening before its closing). */
  pending(limit: number): Promise<readonly AlertEvent[]>;
  /** Records these events (by key) as published; a key already recorded is left as it is. */
  markPublished(keys: readonly string[]): Promise<void>;
}

export interface UnpublishedAlert {
  readonly event: AlertEvent;
  /** The entry's error code, or the name of the error the whole call threw. */
  readonly errorCode: string;
  readonly errorMessage: string;
}

/** Publishes reading-alert events to the alert topic, one message per event. */
export interface AlertPublisher {
  /**
   * Publishes every event; resolves (never rejects for an event the topic refused or could not be
   * reached for) with the events that were not accepted.
   */
  publish(
    events: readonly AlertEvent[],
    options?: {
      /** Asked before each call to the topic: true leaves the rest unsent (the invocation's time is short). */
      readonly stop?: () => boolean;
    },
  ): Promise<{ readonly unpublished: readonly UnpublishedAlert[] }>;
}
