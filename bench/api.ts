/**
 * Query API benchmark (issue 10), every figure a ratio against a baseline measured in the same run:
 *
 * - write path: COPY of validator-sized batches into sensor_readings with the latest-state trigger
 *   (sensor_readings_track_latest) enabled vs disabled, alternating batch by batch;
 * - alerts: a full aggregator run with reading alerts evaluated vs the same run with alerting off;
 * - fleet: GET /api/sensors (the whole fleet, one page) at two sizes of sensor_readings; the
 *   ratio of the latencies must stay near 1 (its cost does not grow with the table);
 * - windows: GET /api/sensors/{id}/windows for 24 h at 1m and 30 days at 1h against the bare
 *   rollup SQL for the same result, p50 and p99;
 * - pollers: concurrent clients polling /api/changes (with If-None-Match) and the fleet against
 *   the local server while a writer adds readings: throughput, p99 and errors.
 *
 * The API runs in this process (the Node server of `npm start`) as the database superuser; the
 * clients share its event loop, so the figures are a floor, not a ceiling.
 */

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { serveApi } from '#adapters/http/node-server.js';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { READING_COLUMNS } from '#adapters/postgres/pipeline-store.js';
import { WINDOWS_REPLY, WINDOWS_ROLLUP, windowsReplyParams } from '#adapters/postgres/query-store.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { readApiSettings } from '#config/api.js';
import { composeApi } from '#lambdas/api/compose.js';
import { aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';
import { createToken } from '#pipeline/api-tokens.js';
import { type BenchServer, median, percentile, round, sleep } from './common.js';

export interface ApiBenchOptions {
  readonly sensors: number;
  /** Readings in the table for the two fleet measurements. */
  readonly smallReadings: number;
  readonly largeReadings: number;
  /** Requests per latency sample (fleet, windows, bare SQL). */
  readonly requests: number;
  readonly pollers: number;
  readonly pollSeconds: number;
  /** Batches of the write-path comparison (each side). */
  readonly writeBatches: number;
  readonly log: (line: string) => void;
}

export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

export interface ApiResult {
  readonly writePath: { readonly withTriggerMs: number; readonly withoutTriggerMs: number; readonly ratio: number };
  readonly alerts: { readonly withAlertsMs: number; readonly withoutAlertsMs: number; readonly ratio: number };
  readonly fleet: {
    readonly sensors: number;
    readonly small: { readonly readings: number; readonly ms: Latency };
    readonly large: { readonly readings: number; readonly ms: Latency };
    /** p50 at the large size ÷ p50 at the small size. */
    readonly ratio: number;
  };
  readonly windows: readonly {
    readonly name: string;
    readonly buckets: number;
    readonly api: Latency;
    /** The bare SQL for the same result: the rollup, one row per bucket (WINDOWS_ROLLUP). */
    readonly sql: Latency;
    readonly ratioP50: number;
    readonly ratioP99: number;
    /**
     * The API's own statement run bare (WINDOWS_REPLY: the same rollup as one compact text, plus
     * the last value, the alerts and the sensor's existence), for the record: not the baseline.
     */
    readonly apiSql: Latency;
  }[];
  readonly pollers: {
    readonly clients: number;
    readonly seconds: number;
    readonly requests: number;
    readonly perSecond: number;
    readonly notModified: number;
    readonly p99Ms: number;
    readonly errors: number;
  };
}

const HOUR = 3_600_000;
const INTERVAL_S = 10;

/** Readings for ticks [$2, $3) of $1 sensors, every INTERVAL_S seconds, ending near $4. */
const LOAD = `
INSERT INTO sensor_readings (reading_id, sensor_id, sensor_type, value, unit, manufacturer, model, min, max, status,
  event_time, normalized_value, high_alert, low_alert, processing_time, stream_name, shard_id, sequence_number,
  partition_key, arrival_time)
SELECT NULL, 'fleet-' || lpad(s::text, 5, '0'), 'temperature', v, '°C', 'Acme', 'T-100', 0, 100, 'active', t,
       v / 100, v >= 90, v <= 10, t, 'bench', 'shardId-00000000000' || (s % 2), lpad((k::bigint * $1 + s)::text, 20, '0'),
       'fleet-' || s, t
FROM generate_series($2::int, $3::int - 1) k
CROSS JOIN generate_series(0, $1::int - 1) s
CROSS JOIN LATERAL (SELECT $4::timestamptz - ($5::int - k) * interval '${INTERVAL_S} seconds' AS t,
                           floor(random() * 100)::float8 AS v) x`;

/** The 1-minute windows of the loaded readings, as the aggregator would have left them. */
const AGGREGATE_ALL = `
INSERT INTO sensor_aggregations (sensor_id, window_start, window_end, sensor_type, unit, reading_count, avg_value,
  min_value, max_value, stddev_value, high_alert_count, low_alert_count)
SELECT sensor_id, date_trunc('minute', event_time, 'UTC'), date_trunc('minute', event_time, 'UTC') + interval '1 minute',
       min(sensor_type), min(unit), count(*), avg(value), min(value), max(value), stddev_samp(value),
       count(*) FILTER (WHERE high_alert), count(*) FILTER (WHERE low_alert)
FROM sensor_readings GROUP BY 1, 2
ON CONFLICT (sensor_id, window_start) DO NOTHING`;

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
}

async function sample(times: number, work: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await work();
    out.push(performance.now() - started);
  }
  return out;
}

async function getOk(url: string, token: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers } });
  if (response.status !== 200 && response.status !== 304) {
    throw new Error(`${url}: ${response.status} ${await response.text()}`);
  }
  await response.arrayBuffer();
  return response;
}

/** COPY batches with the latest-state trigger on and off, alternating; median ms per batch. */
async function writePath(server: BenchServer, options: ApiBenchOptions): Promise<ApiResult['writePath']> {
  const db = new pg.Client({ connectionString: await server.createDatabase('api_write') });
  await db.connect();
  try {
    const batch = 500;
    const text = (offset: number) => {
      const lines: string[] = [];
      const base = Date.now() - HOUR;
      for (let i = 0; i < batch; i++) {
        const sensor = `w-${(offset + i) % 1000}`;
        const t = new Date(base + offset * 10 + i).toISOString();
        const v = (i * 37) % 100;
        lines.push(
          [
            '\\N',
            sensor,
            'temperature',
            v,
            '°C',
            'Acme',
            'T-100',
            0,
            100,
            'active',
            t,
            v / 100,
            v >= 90 ? 't' : 'f',
            v <= 10 ? 't' : 'f',
            t,
            'bench',
            'shardId-000000000000',
            String(offset + i).padStart(20, '0'),
            sensor,
            t,
          ].join('\t'),
        );
      }
      return `${lines.join('\n')}\n`;
    };
    const copy = async (offset: number) => {
      const body = text(offset);
      const started = performance.now();
      await pipeline(
        Readable.from([body]),
        db.query(copyStreams.from(`COPY sensor_readings (${READING_COLUMNS.join(', ')}) FROM STDIN`)),
      );
      return performance.now() - started;
    };
    const on: number[] = [];
    const off: number[] = [];
    let offset = 0;
    for (let i = 0; i < options.writeBatches + 2; i++) {
      for (const enabled of i % 2 === 0 ? [true, false] : [false, true]) {
        await db.query(
          `ALTER TABLE sensor_readings ${enabled ? 'ENABLE' : 'DISABLE'} TRIGGER sensor_readings_track_latest`,
        );
        const ms = await copy(offset);
        offset += batch;
        if (i >= 2) (enabled ? on : off).push(ms); // two warm-up rounds
      }
    }
    const withTriggerMs = round(median(on));
    const withoutTriggerMs = round(median(off));
    return { withTriggerMs, withoutTriggerMs, ratio: round(withTriggerMs / withoutTriggerMs) };
  } finally {
    await db.end();
  }
}

/**
 * A full aggregator run with alerting on vs off over the same marked windows (fresh state each
 * time), three runs each, alternating. Only the runs are timed; what surrounds them is kept cheap,
 * since at full size (1,000,000 readings) it used to take longer than the runs: the readings are
 * loaded in chunks with the table's write-path triggers off (the dirty-window marks are rebuilt
 * before every run anyway and the latest-state table is not read by the aggregator), and the
 * marks are computed once and copied back before each run.
 */
async function alertCost(server: BenchServer, options: ApiBenchOptions): Promise<ApiResult['alerts']> {
  const url = await server.createDatabase('api_alerts');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const sensors = Math.min(options.sensors, 1_000);
    const ticks = Math.max(2, Math.ceil(options.smallReadings / sensors));
    const phase = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await work();
      options.log(`api: alerts: ${label} ${round((performance.now() - started) / 1000)} s`);
      return result;
    };
    const now = new Date().toISOString();
    await phase(`load ${sensors * ticks} readings`, async () => {
      await pool.query('ALTER TABLE sensor_readings DISABLE TRIGGER USER');
      for (let k = 0; k < ticks; k += 50) {
        await pool.query(LOAD, [sensors, k, Math.min(ticks, k + 50), now, ticks]);
      }
      await pool.query('ALTER TABLE sensor_readings ENABLE TRIGGER USER');
      await pool.query(`CREATE TABLE bench_marks AS
        SELECT DISTINCT sensor_id, date_trunc('minute', event_time, 'UTC') AS window_start FROM sensor_readings`);
    });
    await phase('vacuum analyze', () => pool.query('VACUUM ANALYZE sensor_readings'));
    const run = async (alerts: number) => {
      await pool.query('TRUNCATE sensor_aggregations, alert_state, alerts, aggregation_dirty_windows');
      await pool.query('INSERT INTO aggregation_dirty_windows (sensor_id, window_start) SELECT * FROM bench_marks');
      const store = new PostgresAggregationStore(pool, { alertConsecutiveReadings: alerts });
      const started = performance.now();
      await aggregateMarkedWindows(store, { chunkSize: 20_000, remainingMs: () => 600_000, reserveMs: 1_000 });
      const ms = performance.now() - started;
      options.log(`api: alerts: aggregator run ${alerts ? 'with' : 'without'} alerts ${round(ms / 1000)} s`);
      return ms;
    };
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < 3; i++) {
      on.push(await run(3));
      off.push(await run(0));
    }
    const withAlertsMs = round(median(on));
    const withoutAlertsMs = round(median(off));
    return { withAlertsMs, withoutAlertsMs, ratio: round(withAlertsMs / withoutAlertsMs) };
  } finally {
    await pool.end();
  }
}

interface Harness {
  readonly url: string;
  readonly pollUrl: string;
  readonly token: string;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * Two servers on one pool: `url` with reply sharing off, so every fleet and windows request in a
 * latency sample costs its queries (sequential requests within a second would otherwise mostly
 * get the shared reply); `pollUrl` with the default sharing, as `npm start` serves the pollers.
 */
async function startApi(server: BenchServer, label: string): Promise<Harness> {
  const dbUrl = await server.createDatabase(label);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
  const app = (env: Record<string, string>) =>
    composeApi({ pool, settings: readApiSettings(env), log: () => undefined });
  const http = await serveApi(app({ API_SHARE_REPLIES_MS: '0' }));
  const polled = await serveApi(app({}));
  const { token } = await createToken(new PostgresTokenStore(pool), { name: 'bench', scope: 'read' });
  return {
    url: http.url,
    pollUrl: polled.url,
    token,
    pool,
    close: async () => {
      await http.close();
      await polled.close();
      await pool.end();
    },
  };
}

async function fleetAndWindows(api: Harness, options: ApiBenchOptions): Promise<Pick<ApiResult, 'fleet' | 'windows'>> {
  const now = new Date();
  const ticksSmall = Math.ceil(options.smallReadings / options.sensors);
  const ticksLarge = Math.ceil(options.largeReadings / options.sensors);
  const fleetUrl = `${api.url}/api/sensors?limit=${Math.min(options.sensors, 10_000)}`;
  const measureFleet = async () => {
    await getOk(fleetUrl, api.token);
    return latency(await sample(options.requests, () => getOk(fleetUrl, api.token)));
  };
  // Older ticks first, so the large table holds the small one's readings plus older history.
  const load = async (from: number, to: number) => {
    for (let k = from; k < to; k += 20) {
      await api.pool.query(LOAD, [options.sensors, k, Math.min(to, k + 20), now.toISOString(), ticksLarge]);
    }
    await api.pool.query(AGGREGATE_ALL);
    await api.pool.query('TRUNCATE aggregation_dirty_windows');
    await api.pool.query('VACUUM ANALYZE');
  };
  options.log(`api: loading ${options.smallReadings} readings for ${options.sensors} sensors`);
  await load(ticksLarge - ticksSmall, ticksLarge);
  const small = await measureFleet();
  options.log(`api: fleet p50 ${small.p50} ms at ${options.smallReadings}; loading up to ${options.largeReadings}`);
  await load(0, ticksLarge - ticksSmall);
  const large = await measureFleet();
  options.log(`api: fleet p50 ${large.p50} ms at ${options.largeReadings}`);

  // One sensor with 30 days of 1-minute windows and readings in the current minute.
  await api.pool.query(`
    INSERT INTO sensor_aggregations (sensor_id, window_start, window_end, sensor_type, unit, reading_count, avg_value,
      min_value, max_value, stddev_value, high_alert_count, low_alert_count)
    SELECT 'fleet-00000', m, m + interval '1 minute', 'temperature', '°C', 6, 50 + 10 * sin(extract(epoch FROM m) / 3600),
           20, 80, 5, 0, 0
    FROM generate_series(date_trunc('minute', now()) - interval '30 days', date_trunc('minute', now()) - interval '2 minutes',
                         interval '1 minute') m
    ON CONFLICT DO NOTHING`);
  await api.pool.query('VACUUM ANALYZE sensor_aggregations');
  const windows: ApiResult['windows'][number][] = [];
  for (const [name, step, spanMs] of [
    ['24 h at 1m', '1m', 24 * HOUR],
    ['30 days at 1h', '1h', 30 * 24 * HOUR],
  ] as const) {
    const to = Date.now();
    const from = to - spanMs;
    const url = `${api.url}/api/sensors/fleet-00000/windows?step=${step}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
    await getOk(url, api.token); // warm-up
    const sizeMs = step === '1m' ? 60_000 : HOUR;
    // The parameters the API passes for this request (the rollup takes the first five).
    const params = windowsReplyParams({
      sensorId: 'fleet-00000',
      step,
      from: new Date(Math.floor(from / sizeMs) * sizeMs).toISOString(),
      to: new Date(to).toISOString(),
      rawFrom: new Date(Math.floor(to / 60_000) * 60_000 - 60_000).toISOString(),
      alertLimit: 100,
    });
    const apiMs: number[] = [];
    const sqlMs: number[] = [];
    const apiSqlMs: number[] = [];
    // Alternate API and bare SQL request by request, so both see the same machine.
    for (let i = 0; i < options.requests; i++) {
      apiMs.push(...(await sample(1, () => getOk(url, api.token))));
      sqlMs.push(...(await sample(1, () => api.pool.query(WINDOWS_ROLLUP, params.slice(0, 5)))));
      apiSqlMs.push(...(await sample(1, () => api.pool.query(WINDOWS_REPLY, params))));
    }
    const apiL = latency(apiMs);
    const sqlL = latency(sqlMs);
    const apiSqlL = latency(apiSqlMs);
    windows.push({
      name,
      buckets: Math.ceil(spanMs / sizeMs),
      api: apiL,
      sql: sqlL,
      ratioP50: round(apiL.p50 / sqlL.p50),
      ratioP99: round(apiL.p99 / sqlL.p99),
      apiSql: apiSqlL,
    });
    options.log(
      `api: windows ${name} p50 API ${apiL.p50} ms, bare rollup SQL ${sqlL.p50} ms, the API's statement bare ${apiSqlL.p50} ms`,
    );
  }
  return {
    fleet: {
      sensors: options.sensors,
      small: { readings: ticksSmall * options.sensors, ms: small },
      large: { readings: ticksLarge * options.sensors, ms: large },
      ratio: round(large.p50 / small.p50),
    },
    windows,
  };
}

/** Concurrent pollers: /api/changes every turn (If-None-Match), the fleet every tenth. */
async function pollers(api: Harness, options: ApiBenchOptions): Promise<ApiResult['pollers']> {
  const deadline = Date.now() + options.pollSeconds * 1000;
  const times: number[] = [];
  let errors = 0;
  let notModified = 0;
  let writing = true;
  const writer = (async () => {
    for (let k = 0; writing; k++) {
      await api.pool.query(
        `INSERT INTO sensor_readings (sensor_id, sensor_type, value, unit, manufacturer, model, min, max, status,
           event_time, normalized_value, high_alert, low_alert, processing_time, stream_name, shard_id, sequence_number,
           partition_key, arrival_time)
         SELECT 'fleet-' || lpad(s::text, 5, '0'), 'temperature', 50, '°C', 'Acme', 'T-100', 0, 100, 'active', now(), 0.5,
                false, false, now(), 'poll', 'shard', $1 || '-' || s, 'p', now()
         FROM generate_series(0, 99) s`,
        [`poll-${k}`],
      );
      await sleep(1_000);
    }
  })();
  const client = async () => {
    let since = '';
    let etag = '';
    for (let turn = 0; Date.now() < deadline; turn++) {
      const started = performance.now();
      try {
        if (turn % 10 === 9) {
          await getOk(`${api.pollUrl}/api/sensors?limit=1000`, api.token);
        } else {
          const response = await fetch(`${api.pollUrl}/api/changes${since ? `?since=${since}` : ''}`, {
            headers: { authorization: `Bearer ${api.token}`, ...(etag ? { 'if-none-match': etag } : {}) },
          });
          if (response.status === 304) notModified += 1;
          else if (response.status === 200) {
            const body = (await response.json()) as { cursor: string };
            since = body.cursor;
            etag = response.headers.get('etag') ?? '';
          } else {
            errors += 1;
            await response.arrayBuffer();
          }
        }
      } catch {
        errors += 1;
      }
      times.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.pollers }, client));
  const seconds = (performance.now() - started) / 1000;
  writing = false;
  await writer;
  const sorted = times.sort((a, b) => a - b);
  return {
    clients: options.pollers,
    seconds: round(seconds),
    requests: times.length,
    perSecond: round(times.length / seconds),
    notModified,
    p99Ms: round(percentile(sorted, 99)),
    errors,
  };
}

/**
 * The read side alone (fleet, windows, pollers): what a full-size run can afford on a loaded
 * machine when the write-path and alert figures (which do not depend on the fleet's size beyond
 * 1,000 sensors) come from another run.
 */
export async function benchApiReads(
  server: BenchServer,
  options: ApiBenchOptions,
): Promise<Pick<ApiResult, 'fleet' | 'windows' | 'pollers'>> {
  const api = await startApi(server, 'api_fleet');
  try {
    const measured = await fleetAndWindows(api, options);
    options.log(`api: ${options.pollers} pollers for ${options.pollSeconds} s`);
    const polled = await pollers(api, options);
    return { ...measured, pollers: polled };
  } finally {
    await api.close();
  }
}

/** The write side alone (write path and alert cost), the counterpart of {@link benchApiReads}. */
export async function benchApiWrites(
  server: BenchServer,
  options: ApiBenchOptions,
): Promise<Pick<ApiResult, 'writePath' | 'alerts'>> {
  options.log('api: write path, COPY with and without the latest-state trigger');
  const write = await writePath(server, options);
  options.log(`api: write path ratio ${write.ratio}; alert evaluation cost`);
  const alerts = await alertCost(server, options);
  options.log(`api: alert cost ratio ${alerts.ratio}`);
  return { writePath: write, alerts };
}

export async function benchApi(server: BenchServer, options: ApiBenchOptions): Promise<ApiResult> {
  return { ...(await benchApiWrites(server, options)), ...(await benchApiReads(server, options)) };
}
