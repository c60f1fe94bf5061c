/**
 * Fixtures of the query API's tests (issue 10): readings of known shape written through the
 * pipeline's own store (so the write-path triggers fire as in production), and the aggregator
 * run as production runs it.
 */
import type pg from 'pg';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import type { ReadingRow } from '#domain/reading.js';
import { classifyRecord } from '#domain/validation.js';
import { aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';
import { aPosition, aReading, encode } from './factories.js';

export interface ApiReading {
  readonly sensor: string;
  /** ISO-8601 event time. */
  readonly at: string;
  readonly value: number;
  readonly type?: 'temperature' | 'humidity' | 'pressure';
  readonly readingId?: string;
}

/** A valid reading row (range 0..100, so the value is also its normalized percentage). */
export function apiRow(reading: ApiReading, processingTime = new Date()): ReadingRow {
  const result = classifyRecord(
    encode(
      aReading({
        sensor_id: reading.sensor,
        timestamp: reading.at,
        value: reading.value,
        min: 0,
        max: 100,
        sensor_type: reading.type ?? 'temperature',
        ...(reading.readingId ? { reading_id: reading.readingId } : {}),
      }),
    ),
    aPosition({ partitionKey: reading.sensor }),
    { payloadCapBytes: 65_536, now: processingTime },
  );
  if (result.kind !== 'reading') throw new Error(`fixture made an invalid reading: ${JSON.stringify(reading)}`);
  return result.row;
}

/** Writes readings as one batch through the validator's store (COPY, triggers, dedup). */
export async function writeReadings(pool: pg.Pool, readings: readonly (ApiReading | ReadingRow)[]) {
  const rows = readings.map((r) => ('sensor' in r ? apiRow(r) : r));
  return new PostgresPipelineStore(pool).insertReadings(rows);
}

/** One aggregator run (windows and alerts), as the scheduled function runs it. */
export async function runAggregator(pool: pg.Pool, alertConsecutiveReadings = 3) {
  return aggregateMarkedWindows(new PostgresAggregationStore(pool, { alertConsecutiveReadings }), {
    chunkSize: 20_000,
    remainingMs: () => 60_000,
    reserveMs: 1_000,
  });
}
