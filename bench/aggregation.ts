/**
 * Aggregation benchmark: the real aggregator (use case src/pipeline/aggregate-windows.ts over
 * the PostgreSQL adapter, with the handler's default chunk size) against a bare
 * `INSERT … SELECT … GROUP BY` computing the same statistics into an empty table of the same
 * shape, then the incremental run after late readings against the full run.
 *
 * Data: `readings` rows across `sensors` sensors reporting every 2 s, inserted in time order
 * (all sensors interleaved, as a stream delivers them), by multi-row statements so the real
 * statement trigger marks every window. Then VACUUM ANALYZE, the steady state autovacuum
 * reaches on a real table.
 *
 * The schema is the migrated one, so the subject is exactly production's: the per-window
 * LATERAL recompute on the covering (sensor_id, event_time) index (migration
 * 1764190200000_covering-window-index). The full run's result is checked against the bare
 * GROUP BY window by window.
 *
 * Fairness: both write into an empty table (sensor_aggregations is truncated and every window
 * re-marked before each full run, untimed); bare and full alternate, first one then the other,
 * for several rounds after a warm-up of each; the median is reported.
 */
import pg from 'pg';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import type { AggregationStore } from '#domain/ports.js';
import { type AggregationSummary, aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';
import { type BenchServer, median, round } from './common.js';
import { EVENT_TIME_ORIGIN } from './records.js';

export interface AggregationOptions {
  readonly readings: number;
  readonly sensors: number;
  readonly rounds: number;
  /** Late readings as fractions of `readings`; the last one is the headline (1%). */
  readonly lateFractions: readonly number[];
  readonly log: (line: string) => void;
}

export interface IncrementalRun {
  readonly lateReadings: number;
  readonly windowsTouched: number;
  readonly ms: number;
  /** Incremental time ÷ full time. */
  readonly timeShareOfFull: number;
  /** Windows touched ÷ all windows. */
  readonly windowShare: number;
  /** (ms per window, incremental) ÷ (ms per window, full): about 1 when cost follows windows touched. */
  readonly perWindowCostVsFull: number;
}

export interface AggregationResult {
  readonly readings: number;
  readonly sensors: number;
  readonly windows: number;
  readonly loadMs: number;
  readonly full: { readonly msMedian: number; readonly runs: readonly number[]; readonly chunks: number };
  readonly bare: { readonly msMedian: number; readonly runs: readonly number[] };
  /** Full aggregator time ÷ bare GROUP BY time. */
  readonly ratio: number;
  readonly incremental: readonly IncrementalRun[];
  /** Mismatches of the full run against the bare GROUP BY; readings covered after the last run. */
  readonly check: {
    readonly mismatchedWindows: number;
    readonly readingsCovered: number;
    readonly readingsStored: number;
  };
}

/** The handler's default AGGREGATION_CHUNK_WINDOWS (lambdas/aggregator/handler.ts). */
const CHUNK_WINDOWS = 20_000;
const INTERVAL_S = 2;
const LATE_BATCH = 500;

const STATS = `min(sensor_type), min(unit), count(*), avg(value), min(value), max(value), stddev_samp(value),
       count(*) FILTER (WHERE high_alert), count(*) FILTER (WHERE low_alert), now()`;
const AGG_COLUMNS = `sensor_id, window_start, window_end, sensor_type, unit, reading_count, avg_value, min_value,
  max_value, stddev_value, high_alert_count, low_alert_count, updated_at`;

export const BARE_GROUP_BY = `
INSERT INTO bench_bare_aggregations (${AGG_COLUMNS})
SELECT sensor_id, date_trunc('minute', event_time, 'UTC'), date_trunc('minute', event_time, 'UTC') + interval '1 minute',
       ${STATS}
FROM sensor_readings
GROUP BY 1, 2`;

const SENSORS_CTE = `
WITH s AS (
  SELECT i,
         'sensor-' || lpad(i::text, 4, '0') AS sensor_id,
         (ARRAY['temperature', 'humidity', 'pressure'])[i % 3 + 1] AS sensor_type,
         (ARRAY['°C', '%', 'hPa'])[i % 3 + 1] AS unit,
         (ARRAY[-40, 0, 300])[i % 3 + 1]::float8 AS min,
         (ARRAY[85, 100, 1100])[i % 3 + 1]::float8 AS max
  FROM generate_series(0, $1::int - 1) AS i
)`;

function readingsInsert(source: string): string {
  return `${SENSORS_CTE}
INSERT INTO sensor_readings (reading_id, sensor_id, sensor_type, value, unit, manufacturer, model, min, max, status,
  event_time, normalized_value, high_alert, low_alert, processing_time, stream_name, shard_id, sequence_number,
  partition_key, arrival_time)
SELECT gen_random_uuid(), s.sensor_id, s.sensor_type, x.value, s.unit, 'Acme', 'T-100', s.min, s.max, 'active',
       x.event_time, (x.value - s.min) / (s.max - s.min), (x.value - s.min) / (s.max - s.min) >= 0.9,
       (x.value - s.min) / (s.max - s.min) <= 0.1, x.event_time + interval '1 second', 'iot_sensor_data',
       'shardId-00000000000' || (s.i % 2), x.seq, s.sensor_id, x.event_time + interval '500 milliseconds'
${source}`;
}

/** Ticks [$2, $3): every sensor reports once per tick; rows come out in time order. */
const LOAD = readingsInsert(`
FROM generate_series($2::int, $3::int - 1) AS k
CROSS JOIN s
CROSS JOIN LATERAL (
  SELECT $4::timestamptz + k * interval '${INTERVAL_S} seconds' + (s.i % 2000) * interval '1 millisecond' AS event_time,
         s.min + (s.max - s.min) * random() AS value,
         (k::bigint * $1::int + s.i)::text AS seq
) x
ORDER BY k, s.i`);

/** $2 late readings at random (sensor, tick) among ticks [0, $3), tagged $5 to keep positions unique. */
const LATE = readingsInsert(`
FROM generate_series(1, $2::int) AS n
CROSS JOIN LATERAL (SELECT floor(random() * $1::int + 0 * n)::int AS si, floor(random() * $3::int + 0 * n)::int AS k) pick
JOIN s ON s.i = pick.si
CROSS JOIN LATERAL (
  SELECT $4::timestamptz + pick.k * interval '${INTERVAL_S} seconds' + floor(random() * 1000) * interval '1 millisecond' AS event_time,
         s.min + (s.max - s.min) * random() AS value,
         $5::text || '-' || n AS seq
) x`);

const MARK_ALL = `INSERT INTO aggregation_dirty_windows (sensor_id, window_start)
SELECT DISTINCT sensor_id, date_trunc('minute', event_time, 'UTC') FROM sensor_readings ON CONFLICT DO NOTHING`;

/** Loads `readings` rows across `sensors` sensors in time order (10 statements); returns the ticks per sensor. */
export async function loadReadings(client: pg.Client, sensors: number, readings: number): Promise<number> {
  const ticks = Math.ceil(readings / sensors);
  await client.query('SELECT setseed(0.42)');
  const step = Math.max(1, Math.ceil(ticks / 10));
  for (let k = 0; k < ticks; k += step)
    await client.query(LOAD, [sensors, k, Math.min(ticks, k + step), EVENT_TIME_ORIGIN]);
  return ticks;
}

/** Inserts `late` readings at random old (sensor, window) pairs, in statements of 500 like validator batches. */
export async function insertLateReadings(
  client: pg.Client,
  sensors: number,
  ticks: number,
  late: number,
  tag: string,
): Promise<void> {
  // Old windows only: the last two minutes of ticks are left out.
  const oldTicks = Math.max(1, ticks - Math.ceil(120 / INTERVAL_S));
  for (let done = 0; done < late; done += LATE_BATCH) {
    await client.query(LATE, [
      sensors,
      Math.min(LATE_BATCH, late - done),
      oldTicks,
      EVENT_TIME_ORIGIN,
      `${tag}-${done}`,
    ]);
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

interface PhaseMeasurement {
  readonly full: { readonly msMedian: number; readonly runs: readonly number[]; readonly chunks: number };
  readonly bare: { readonly msMedian: number; readonly runs: readonly number[] };
  readonly ratio: number;
  readonly incremental: readonly IncrementalRun[];
  readonly mismatchedWindows: number;
}

const MISMATCHES = `
SELECT count(*) AS n FROM bench_bare_aggregations b
FULL JOIN sensor_aggregations a USING (sensor_id, window_start)
WHERE a.reading_count IS DISTINCT FROM b.reading_count
   OR abs(a.avg_value - b.avg_value) > 1e-9 OR a.max_value IS DISTINCT FROM b.max_value
   OR a.high_alert_count IS DISTINCT FROM b.high_alert_count`;

/**
 * Bare GROUP BY against full runs of `store` (alternating, after a warm-up of each), a
 * correctness check of the full run against the bare result, then the incremental runs.
 */
async function measurePhase(
  admin: pg.Client,
  store: AggregationStore,
  options: AggregationOptions,
  shape: { readonly ticks: number; readonly windows: number; readonly tag: string },
): Promise<PhaseMeasurement> {
  const run = (): Promise<AggregationSummary> =>
    aggregateMarkedWindows(store, { chunkSize: CHUNK_WINDOWS, remainingMs: () => 120_000, reserveMs: 15_000 });
  let chunks = 0;
  const bare = async (): Promise<number> => {
    await admin.query('TRUNCATE bench_bare_aggregations');
    return timed(() => admin.query(BARE_GROUP_BY));
  };
  const full = async (): Promise<number> => {
    await admin.query('TRUNCATE sensor_aggregations');
    await admin.query(MARK_ALL);
    await admin.query('ANALYZE aggregation_dirty_windows');
    return timed(async () => {
      chunks = (await run()).chunks;
    });
  };
  await bare();
  await full();
  const bareRuns: number[] = [];
  const fullRuns: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    if (r % 2 === 0) {
      bareRuns.push(await bare());
      fullRuns.push(await full());
    } else {
      fullRuns.push(await full());
      bareRuns.push(await bare());
    }
  }
  const fullMs = median(fullRuns);
  const bareMs = median(bareRuns);
  const mismatchedWindows = Number((await admin.query<{ n: string }>(MISMATCHES)).rows[0]?.n ?? -1);

  const incremental: IncrementalRun[] = [];
  for (const [i, fraction] of options.lateFractions.entries()) {
    const late = Math.max(1, Math.round(options.readings * fraction));
    await insertLateReadings(admin, options.sensors, shape.ticks, late, `${shape.tag}${i}`);
    const touched = Number(
      (await admin.query<{ n: string }>('SELECT count(*) AS n FROM aggregation_dirty_windows')).rows[0]?.n ?? 0,
    );
    options.log(`aggregation (${shape.tag}): ${late} late readings touched ${touched} windows; incremental run`);
    const ms = await timed(run);
    incremental.push({
      lateReadings: late,
      windowsTouched: touched,
      ms: round(ms),
      timeShareOfFull: round(ms / fullMs),
      windowShare: round(touched / shape.windows),
      perWindowCostVsFull: round(ms / touched / (fullMs / shape.windows)),
    });
  }
  return {
    full: { msMedian: round(fullMs), runs: fullRuns.map((m) => round(m)), chunks },
    bare: { msMedian: round(bareMs), runs: bareRuns.map((m) => round(m)) },
    ratio: round(fullMs / bareMs),
    incremental,
    mismatchedWindows,
  };
}

export async function benchAggregation(server: BenchServer, options: AggregationOptions): Promise<AggregationResult> {
  const { log } = options;
  const url = await server.createDatabase('aggregation');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const ticks = Math.ceil(options.readings / options.sensors);
    log(`aggregation: loading ${ticks * options.sensors} readings across ${options.sensors} sensors`);
    const loadMs = await timed(() => loadReadings(admin, options.sensors, options.readings));
    await admin.query('CREATE TABLE bench_bare_aggregations (LIKE sensor_aggregations INCLUDING ALL)');
    await admin.query('VACUUM ANALYZE sensor_readings');
    await admin.query('ANALYZE aggregation_dirty_windows');
    const windows = Number(
      (await admin.query<{ n: string }>('SELECT count(*) AS n FROM aggregation_dirty_windows')).rows[0]?.n ?? 0,
    );

    log(
      `aggregation: ${windows} windows; warm-up, then ${options.rounds} rounds of bare GROUP BY and full run, alternating`,
    );
    const current = await measurePhase(admin, new PostgresAggregationStore(pool), options, {
      ticks,
      windows,
      tag: 'late',
    });

    const totals = (
      await admin.query<{ covered: string; stored: string }>(
        'SELECT (SELECT sum(reading_count) FROM sensor_aggregations) AS covered, (SELECT count(*) FROM sensor_readings) AS stored',
      )
    ).rows[0];
    return {
      readings: ticks * options.sensors,
      sensors: options.sensors,
      windows,
      loadMs: round(loadMs),
      full: current.full,
      bare: current.bare,
      ratio: current.ratio,
      incremental: current.incremental,
      check: {
        mismatchedWindows: current.mismatchedWindows,
        readingsCovered: Number(totals?.covered ?? 0),
        readingsStored: Number(totals?.stored ?? 0),
      },
    };
  } finally {
    await admin.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}
