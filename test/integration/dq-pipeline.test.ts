/**
 * The shipped check files (soda/checks) over data made by the pipeline's own code: the simulated
 * fleet with its default fault rates, classified by the validator's classification, stored by
 * the PostgreSQL store, aggregated by the aggregator's store. On that clean run every check
 * passes; then each kind of bad data is injected into a fresh copy and exactly the checks meant
 * to catch it speak up, and nothing else.
 *
 * Honest note on the injections: the schema's own constraints (primary keys, the partial unique
 * index on reading_id, the range CHECKs) make duplicates and out-of-range rows impossible in
 * sensor_readings. The checks are the second line for when that changes (a relaxed constraint,
 * a backfill that disables them, a copy of the data elsewhere), so the tests drop the relevant
 * constraint in their throwaway database first, which is exactly that situation.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { simulate } from '#domain/fleet.js';
import type { PositionedRecord } from '#domain/stream.js';
import { DEFAULT_CHECKS_DIR, loadCheckFiles } from '#dq/adapters/check-files.js';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { runScan, type ScanResult } from '#dq/core/runner.js';
import { aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { topology } from '#topology.js';
import { createTestDatabase } from '../support/database.js';

const pools: pg.Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

const RECORDS = 600;

/** A fresh database holding one clean pipeline run: readings, errors and recomputed windows. */
async function pipelineDatabase(): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: await createTestDatabase('dq_pipeline'), max: 4 });
  pools.push(pool);
  const now = new Date();
  const sim = simulate({
    count: RECORDS,
    sensors: 20,
    seed: 7,
    startTime: new Date(now.getTime() - 3 * 60_000),
    intervalMs: 2_000,
  });
  const records: PositionedRecord[] = sim.records.map((r, i) => ({
    data: r.data,
    position: {
      streamName: topology.stream.name,
      shardId: `shardId-00000000000${i % 2}`,
      sequenceNumber: String(49_000_000_000_000_000_000n + BigInt(i)),
      partitionKey: r.partitionKey,
      arrivalTime: now,
    },
  }));
  const batch = classifyBatch(records, { payloadCapBytes: topology.payloadCapBytes, now });
  const store = new PostgresPipelineStore(pool);
  await store.insertReadings(batch.rows);
  await store.insertErrors(batch.rejections);
  await aggregateMarkedWindows(new PostgresAggregationStore(pool), {
    chunkSize: 1_000,
    remainingMs: () => 60_000,
    reserveMs: 1_000,
  });
  return pool;
}

async function scanChecks(pool: pg.Pool, variables?: Record<string, string>): Promise<ScanResult> {
  const client = await pool.connect();
  try {
    return await runScan({
      files: await loadCheckFiles([DEFAULT_CHECKS_DIR], DEFAULT_CHECKS_DIR),
      executor: pgExecutor(client),
      ...(variables ? { variables } : {}),
    });
  } finally {
    client.release();
  }
}

/** `outcome file: name` of every check that did not pass. */
function flagged(scan: ScanResult): string[] {
  return scan.results
    .filter((r) => r.outcome !== 'pass')
    .map((r) => `${r.outcome ?? 'error'} ${r.file}: ${r.name}`)
    .sort();
}

function metricValue(scan: ScanResult, name: string): number | null | undefined {
  return scan.results.find((r) => r.name === name)?.value;
}

describe('soda/checks on pipeline data', () => {
  it('pass on a clean run with the producer defaults (error rate about 0.37)', async () => {
    const pool = await pipelineDatabase();
    const scan = await scanChecks(pool);
    expect(scan.errors).toEqual([]);
    expect(flagged(scan)).toEqual([]);
    expect(scan.exitCode).toBe(0);
    expect(scan.results.length).toBeGreaterThanOrEqual(40);
    const share = metricValue(scan, 'share of records rejected, current and previous hour')!;
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.45);
    // The clean data does have windows, errors and readings: the checks are not passing on nothing.
    const counts = (
      await pool.query(
        'SELECT (SELECT count(*) FROM sensor_readings)::int AS r, (SELECT count(*) FROM sensor_errors)::int AS e, (SELECT count(*) FROM sensor_aggregations)::int AS a',
      )
    ).rows[0];
    expect(counts.r + counts.e).toBe(RECORDS);
    expect(counts.a).toBeGreaterThan(0);
  });

  it('flag duplicated stream positions and reading ids', async () => {
    const pool = await pipelineDatabase();
    await pool.query('ALTER TABLE sensor_readings DROP CONSTRAINT sensor_readings_pkey');
    await pool.query('DROP INDEX sensor_readings_reading_id_key');
    // A redelivered record stored twice (same position, same reading_id): two copies of one row.
    await pool.query(
      'INSERT INTO sensor_readings SELECT * FROM sensor_readings WHERE reading_id IS NOT NULL ORDER BY sequence_number LIMIT 2',
    );
    const scan = await scanChecks(pool);
    expect(flagged(scan)).toEqual([
      'fail sensor_readings.yml: one row per Kinesis record (stream_name, shard_id, sequence_number)',
      'fail sensor_readings.yml: one row per producer reading_id',
    ]);
    expect(metricValue(scan, 'one row per producer reading_id')).toBe(2);
    expect(scan.exitCode).toBe(2);
  });

  it('flag out-of-range values and normalized values', async () => {
    const pool = await pipelineDatabase();
    await pool.query('ALTER TABLE sensor_readings DROP CONSTRAINT sensor_readings_range_check');
    await pool.query('ALTER TABLE sensor_readings DROP CONSTRAINT sensor_readings_normalized_value_check');
    await pool.query(`
      INSERT INTO sensor_readings
      SELECT NULL, sensor_id, sensor_type, max + 10, unit, manufacturer, model, min, max, status, event_time,
             1.1, high_alert, low_alert, processing_time, stream_name, shard_id, sequence_number || '9', partition_key, arrival_time
      FROM sensor_readings ORDER BY sequence_number LIMIT 1`);
    const scan = await scanChecks(pool);
    expect(flagged(scan)).toEqual([
      'fail sensor_readings.yml: normalized_value is within [0, 1]',
      'fail sensor_readings.yml: value is within [min, max] and min < max',
    ]);
    expect(metricValue(scan, 'value is within [min, max] and min < max')).toBe(1);
  });

  it('flag aggregations that disagree with their readings, and avg outside [min, max]', async () => {
    const pool = await pipelineDatabase();
    await pool.query(`UPDATE sensor_aggregations SET reading_count = reading_count + 1
                      WHERE (sensor_id, window_start) = (SELECT sensor_id, window_start FROM sensor_aggregations ORDER BY 1, 2 LIMIT 1)`);
    await pool.query(`UPDATE sensor_aggregations SET avg_value = max_value + 1
                      WHERE (sensor_id, window_start) = (SELECT sensor_id, window_start FROM sensor_aggregations ORDER BY 1 DESC, 2 LIMIT 1)`);
    const scan = await scanChecks(pool);
    expect(flagged(scan)).toEqual([
      'fail sensor_aggregations.yml: min_value <= avg_value <= max_value',
      'fail sensor_aggregations.yml: reading_count equals the readings of the window (last 24 hours)',
    ]);
    expect(metricValue(scan, 'reading_count equals the readings of the window (last 24 hours)')).toBe(1);
  });

  it('do not flag windows the aggregator has yet to recompute (still marked dirty)', async () => {
    const pool = await pipelineDatabase();
    // A late reading for an existing window: its count is stale until the next aggregator run,
    // which is normal, and the mark written with it tells the check so.
    await pool.query(`
      INSERT INTO sensor_readings
      SELECT NULL, sensor_id, sensor_type, value, unit, manufacturer, model, min, max, status, event_time,
             normalized_value, high_alert, low_alert, processing_time, stream_name, shard_id, sequence_number || '8', partition_key, arrival_time
      FROM sensor_readings ORDER BY sequence_number LIMIT 1`);
    expect(flagged(await scanChecks(pool))).toEqual([]);
  });

  it('flag stale data: warn after 5 minutes without readings, fail after an hour', async () => {
    const pool = await pipelineDatabase();
    const later = (minutes: number) => ({ NOW: new Date(Date.now() + minutes * 60_000).toISOString() });
    expect(flagged(await scanChecks(pool, later(10)))).toEqual(['warn sensor_readings.yml: readings keep arriving']);
    expect(flagged(await scanChecks(pool, later(90)))).toEqual(['fail sensor_readings.yml: readings keep arriving']);
    const empty = await pipelineDatabase();
    // Nothing at all (a stack whose producer never ran): freshness and row_count say so.
    await empty.query('TRUNCATE sensor_readings, sensor_errors, sensor_aggregations, aggregation_dirty_windows');
    expect(flagged(await scanChecks(empty))).toEqual([
      'fail sensor_readings.yml: readings keep arriving',
      'fail sensor_readings.yml: row_count > 0',
    ]);
  });

  it('flag an error-rate incident (fail) and a burst of malformed records (warn)', async () => {
    const pool = await pipelineDatabase();
    const addErrors = async (type: string, n: number, prefix: string) =>
      pool.query(
        `INSERT INTO sensor_errors (error_type, error_message, raw_size, stream_name, shard_id, sequence_number, error_time)
         SELECT $1, 'injected', 10, 'iot_sensor_data', 'shardId-000000000009', $2 || i, now() FROM generate_series(1, $3::int) AS i`,
        [type, prefix, n],
      );
    await addErrors('SCHEMA_ERROR', 30, '1');
    const malformed = await scanChecks(pool);
    // 30 of ~630 records malformed: above the 1% warn line, under the 5% fail line; the overall
    // share (~0.40) is still normal.
    expect(flagged(malformed)).toEqual([
      'warn dq_error_rate.yml: share of records malformed or unprocessable, current and previous hour',
    ]);
    expect(malformed.exitCode).toBe(1);
    await addErrors('INACTIVE_SENSOR', 1_000, '2');
    const incident = await scanChecks(pool);
    expect(flagged(incident)).toEqual([
      'fail dq_error_rate.yml: share of records rejected, current and previous hour',
      'warn dq_error_rate.yml: share of records malformed or unprocessable, current and previous hour',
    ]);
    expect(metricValue(incident, 'share of records rejected, current and previous hour')).toBeGreaterThan(0.6);
  });
});
