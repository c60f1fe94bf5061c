/**
 * The query API over real HTTP on real PostgreSQL, with data of known shape: the fleet and its
 * statuses, pagination that returns every row exactly once, UTC-aligned windows equal to a
 * reference computed here from the raw readings, gaps as nulls, the partial current minute, the
 * last value before `from`, truncation with a cursor, errors, data-quality runs, health and
 * changes with ETag/304.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ApiReading, runAggregator, writeReadings } from '../support/api-fixtures.js';
import { type ApiTestServer, startApiTestServer } from '../support/api-server.js';

let api: ApiTestServer;

beforeAll(async () => {
  api = await startApiTestServer('api_queries');
});
afterAll(async () => api?.close());
beforeEach(async () =>
  api.db.query(
    `TRUNCATE sensor_readings, sensor_errors, sensor_aggregations, aggregation_dirty_windows, alerts, alert_state,
              sensor_latest, dq_check_results, pipeline_heartbeats`,
  ),
);

// biome-ignore lint/suspicious/noExplicitAny: replies are checked field by field below
async function getJson(path: string): Promise<any> {
  const response = await api.request(path);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();

/** Follows nextCursor to the end; returns every item of every page. */
async function walk<T>(path: string, items: (reply: { nextCursor: string | null }) => T[]): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1_000; pages++) {
    const separator = path.includes('?') ? '&' : '?';
    const reply = await getJson(cursor ? `${path}${separator}cursor=${cursor}` : path);
    all.push(...items(reply));
    cursor = reply.nextCursor;
    if (!cursor) return all;
  }
  throw new Error('pagination did not end');
}

describe('GET /api/sensors', () => {
  it('gives every sensor its latest reading and a status from the age of its data', async () => {
    const now = Date.now();
    await writeReadings(api.db, [
      { sensor: 'fresh', at: iso(now - 2 * HOUR), value: 10 },
      { sensor: 'fresh', at: iso(now - MINUTE), value: 42 },
      { sensor: 'stale', at: iso(now - 30 * MINUTE), value: 50, type: 'humidity' },
      { sensor: 'gone', at: iso(now - 3 * HOUR), value: 60, type: 'pressure' },
    ]);
    // A late reading older than the latest one leaves the latest state alone.
    await writeReadings(api.db, [{ sensor: 'fresh', at: iso(now - 90 * MINUTE), value: 11 }]);
    await api.db.query(
      `INSERT INTO sensor_errors (error_type, error_message, raw_size, sensor_id, stream_name, shard_id, sequence_number, error_time)
       SELECT 'ABOVE_MAX', 'too high', 10, 'fresh', 's', 'sh', 'e' || i, now() - interval '10 minutes' FROM generate_series(1, 3) i`,
    );
    await runAggregator(api.db); // refreshes the last-hour figures
    const reply = await getJson('/api/sensors');
    expect(reply.thresholds).toEqual({ staleAfterSeconds: 300, offlineAfterSeconds: 3600 });
    const byId = Object.fromEntries(reply.sensors.map((s: { sensorId: string }) => [s.sensorId, s]));
    expect(Object.keys(byId).sort()).toEqual(['fresh', 'gone', 'stale']);
    expect(byId.fresh).toMatchObject({ status: 'ok', lastSeen: iso(now - MINUTE), latest: { value: 42 } });
    expect(byId.fresh.rejectedLastHour).toBe(3);
    expect(byId.fresh.rejectionRateLastHour).toBe(0.75); // 3 rejected, 1 valid reading in the last hour
    expect(byId.stale).toMatchObject({ status: 'stale', sensorType: 'humidity' });
    expect(byId.gone).toMatchObject({ status: 'offline', rejectedLastHour: 0, rejectionRateLastHour: null });

    expect((await getJson('/api/sensors?status=stale')).sensors.map((s: { sensorId: string }) => s.sensorId)).toEqual([
      'stale',
    ]);
    expect((await getJson('/api/sensors?type=pressure')).sensors.map((s: { sensorId: string }) => s.sensorId)).toEqual([
      'gone',
    ]);
    expect((await getJson('/api/sensors?q=res')).sensors.map((s: { sensorId: string }) => s.sensorId)).toEqual([
      'fresh',
    ]);
  });

  it('shows open alerts and filters by them', async () => {
    const base = Date.now() - 10 * MINUTE;
    await writeReadings(api.db, [
      ...[95, 96, 97].map((value, i) => ({ sensor: 'hot', at: iso(base + i * 1000), value })),
      { sensor: 'calm', at: iso(base), value: 50 },
    ]);
    await runAggregator(api.db, 3);
    const open = await getJson('/api/sensors?alert=open');
    expect(open.sensors).toHaveLength(1);
    expect(open.sensors[0]).toMatchObject({ sensorId: 'hot', openAlerts: [{ kind: 'high', peakValue: 97 }] });
    expect((await getJson('/api/sensors?alert=none')).sensors.map((s: { sensorId: string }) => s.sensorId)).toEqual([
      'calm',
    ]);
    const detail = await getJson('/api/sensors/hot');
    expect(detail.sensor.openAlerts).toHaveLength(1);
    expect(detail.recentAlerts[0]).toMatchObject({ kind: 'high', closedAt: null, readingCount: 3 });
  });

  it('walks every sensor exactly once in every sort order', async () => {
    const now = Date.now();
    // 53 sensors; several share a last-seen time, so the keyset's tie-break is exercised.
    const readings: ApiReading[] = Array.from({ length: 53 }, (_, i) => ({
      sensor: `s-${String(i).padStart(3, '0')}`,
      at: iso(now - (i % 7) * MINUTE),
      value: i,
    }));
    await writeReadings(api.db, readings);
    const expected = readings.map((r) => r.sensor).sort();
    for (const sort of ['id', 'lastSeen']) {
      for (const order of ['asc', 'desc']) {
        const ids = await walk(`/api/sensors?limit=5&sort=${sort}&order=${order}`, (r) =>
          (r as unknown as { sensors: { sensorId: string; lastSeen: string }[] }).sensors.map((s) => s),
        );
        expect(ids.map((s) => s.sensorId).sort()).toEqual(expected);
        const keys = ids.map((s) => (sort === 'id' ? s.sensorId : `${s.lastSeen}|${s.sensorId}`));
        const sorted = [...keys].sort();
        expect(keys).toEqual(order === 'asc' ? sorted : sorted.reverse());
      }
    }
  });
});

describe('GET /api/sensors/{id}/readings', () => {
  it('returns raw readings newest first and pages through every row exactly once', async () => {
    const base = Date.UTC(2026, 10, 20, 10, 0, 0);
    // 120 readings, in pairs that share an event time.
    const readings = Array.from({ length: 120 }, (_, i) => ({
      sensor: 'pager',
      at: iso(base + Math.floor(i / 2) * 1000),
      value: i % 100,
    }));
    await writeReadings(api.db, readings);
    const walked = await walk(
      '/api/sensors/pager/readings?limit=7',
      (r) => (r as unknown as { readings: { eventTime: string; position: { sequenceNumber: string } }[] }).readings,
    );
    expect(walked).toHaveLength(120);
    expect(new Set(walked.map((r) => r.position.sequenceNumber)).size).toBe(120);
    const times = walked.map((r) => r.eventTime);
    expect(times).toEqual([...times].sort().reverse());
    const ranged = await getJson(`/api/sensors/pager/readings?from=${iso(base + 10_000)}&to=${iso(base + 20_000)}`);
    expect(ranged.readings).toHaveLength(20);
    expect(ranged.truncated).toBe(false);
  });

  it('answers 404 for an unknown sensor', async () => {
    const response = await api.request('/api/sensors/nobody/readings');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 404, title: 'Not found' });
  });
});

/** The reference: statistics per UTC bucket computed from the raw readings, in the test. */
function reference(readings: readonly ApiReading[], stepMinutes: number) {
  const size = stepMinutes * MINUTE;
  const groups = new Map<number, number[]>();
  for (const r of readings) {
    const start = Math.floor(Date.parse(r.at) / size) * size;
    groups.set(start, [...(groups.get(start) ?? []), r.value]);
  }
  return new Map(
    [...groups].map(([start, values]) => {
      const n = values.length;
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
      return [
        start,
        {
          count: n,
          avg: mean,
          min: Math.min(...values),
          max: Math.max(...values),
          stddev: sd,
          highAlertCount: values.filter((v) => v >= 90).length,
          lowAlertCount: values.filter((v) => v <= 10).length,
        },
      ];
    }),
  );
}

describe('GET /api/sensors/{id}/windows', () => {
  // Two days of readings with an irregular rhythm and a 3-hour gap, starting off any boundary.
  const start = Date.UTC(2026, 10, 20, 22, 37, 13);
  const readings: ApiReading[] = [];
  for (let i = 0, t = start; t < start + 2 * 24 * HOUR; i++, t += 20_000 + ((i * 7919) % 170_000)) {
    if (t > start + 5 * HOUR && t < start + 8 * HOUR) continue;
    readings.push({ sensor: 'w1', at: iso(t), value: (i * 37) % 101 });
  }

  beforeEach(async () => {
    await writeReadings(api.db, readings);
    await runAggregator(api.db);
  });

  it.each([
    ['1m', 1],
    ['5m', 5],
    ['15m', 15],
    ['1h', 60],
    ['1d', 1440],
  ])(
    'rolls up to %s buckets aligned to UTC, equal to the raw-reading reference, gaps as nulls',
    async (step, minutes) => {
      const from = start - 3 * HOUR - 17_000;
      const to = from + Math.min(1_400 * minutes * MINUTE, 3 * 24 * HOUR);
      const reply = await getJson(`/api/sensors/w1/windows?step=${step}&from=${iso(from)}&to=${iso(to)}`);
      const size = minutes * MINUTE;
      expect(reply.step).toBe(step);
      expect(reply.truncated).toBe(false);
      expect(reply.from).toBe(iso(Math.floor(from / size) * size));
      const expected = reference(
        readings.filter((r) => Date.parse(r.at) >= Math.floor(from / size) * size && Date.parse(r.at) < to),
        minutes,
      );
      let previousEnd = Date.parse(reply.from);
      let empty = 0;
      for (const bucket of reply.buckets) {
        const b = Date.parse(bucket.start);
        expect(b % size).toBe(0);
        expect(b).toBe(previousEnd);
        expect(Date.parse(bucket.end) - b).toBe(size);
        previousEnd = Date.parse(bucket.end);
        const want = expected.get(b);
        if (!want) {
          empty += 1;
          expect(bucket).toMatchObject({ count: 0, avg: null, min: null, max: null, stddev: null, partial: false });
          continue;
        }
        expect(bucket.count).toBe(want.count);
        expect(bucket.avg).toBeCloseTo(want.avg, 9);
        expect(bucket.min).toBe(want.min);
        expect(bucket.max).toBe(want.max);
        if (want.stddev === null) expect(bucket.stddev).toBeNull();
        else expect(bucket.stddev).toBeCloseTo(want.stddev, 9);
        expect(bucket.highAlertCount).toBe(want.highAlertCount);
        expect(bucket.lowAlertCount).toBe(want.lowAlertCount);
      }
      expect(previousEnd).toBeGreaterThanOrEqual(to);
      expect(reply.buckets.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(
        [...expected.values()].reduce((n, v) => n + v.count, 0),
      );
      if (minutes <= 60) expect(empty).toBeGreaterThan(0); // the 3-hour gap (and the 3 hours before the data)
    },
  );

  it('gives the last value before `from`, and null when there is none', async () => {
    const from = start + 6 * HOUR; // inside the gap
    const before = readings.filter((r) => Date.parse(r.at) < from).at(-1);
    const reply = await getJson(`/api/sensors/w1/windows?step=1h&from=${iso(from)}&to=${iso(from + 4 * HOUR)}`);
    expect(reply.lastBefore).toEqual({ eventTime: before?.at, value: before?.value });
    const first = await getJson(`/api/sensors/w1/windows?step=1h&from=${iso(start - HOUR)}&to=${iso(start + HOUR)}`);
    expect(first.lastBefore).toBeNull();
  });

  it('cuts a too-wide range into pages continued by nextCursor, never silently', async () => {
    const from = Date.UTC(2020, 0, 1);
    const to = Date.UTC(2030, 0, 1);
    const first = await getJson(`/api/sensors/w1/windows?step=1m&from=${iso(from)}&to=${iso(to)}`);
    expect(first.truncated).toBe(true);
    expect(first.buckets).toHaveLength(1_500);
    expect(first.to).toBe(iso(from + 1_500 * MINUTE));
    const second = await getJson(
      `/api/sensors/w1/windows?step=1m&from=${iso(from)}&to=${iso(to)}&cursor=${first.nextCursor}`,
    );
    expect(second.from).toBe(first.to);
    expect(second.truncated).toBe(true);
    // The whole data span, walked at 1h, adds up to every reading exactly once.
    const buckets = await walk(
      `/api/sensors/w1/windows?step=1d&from=${iso(from)}&to=${iso(to)}`,
      (r) => (r as unknown as { buckets: { count: number }[] }).buckets,
    );
    expect(buckets.reduce((n, b) => n + b.count, 0)).toBe(readings.length);
  });
});

describe('the current minute', () => {
  it('is computed from raw readings before the aggregator runs, and flagged partial', async () => {
    const now = Date.now();
    const minute = Math.floor(now / MINUTE) * MINUTE;
    await writeReadings(api.db, [
      { sensor: 'live', at: iso(minute - 5 * MINUTE), value: 20 },
      { sensor: 'live', at: iso(Math.max(minute, now - 1_000)), value: 30 },
      { sensor: 'live', at: iso(Math.max(minute, now - 500)), value: 40 },
    ]);
    await runAggregator(api.db);
    await writeReadings(api.db, [{ sensor: 'live', at: iso(Math.max(minute, now - 200)), value: 50 }]);
    const reply = await getJson(`/api/sensors/live/windows?step=1m&from=${iso(minute - 10 * MINUTE)}`);
    const last = reply.buckets.at(-1);
    expect(last.partial).toBe(true);
    expect(Date.parse(last.start)).toBeGreaterThanOrEqual(minute);
    const recent = reply.buckets.filter((b: { start: string }) => Date.parse(b.start) >= minute);
    expect(recent.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(3);
    expect(reply.buckets.filter((b: { partial: boolean }) => b.partial)).toHaveLength(1);
    const earlier = reply.buckets.find((b: { start: string }) => b.start === iso(minute - 5 * MINUTE));
    expect(earlier).toMatchObject({ count: 1, avg: 20, partial: false });
  });
});

describe('GET /api/errors', () => {
  it('counts rejections by type per bucket and pages through the rows with their exact bytes', async () => {
    const base = Date.UTC(2026, 10, 21, 8, 0, 0);
    const types = ['ABOVE_MAX', 'BELOW_MIN', 'JSON_PARSE_ERROR'];
    await api.db.query(
      `INSERT INTO sensor_errors (error_type, error_message, raw_value, raw_bytes, raw_size, sensor_id, stream_name,
                                  shard_id, sequence_number, error_time)
       SELECT ($1::text[])[1 + i % 3], 'reason ' || i, 'text ' || i, convert_to('bytes ' || i, 'UTF8') || '\\xff'::bytea,
              8, 'e-' || (i % 2), 'stream', 'shard', lpad(i::text, 10, '0'), $2::timestamptz + (i * interval '7 minutes')
       FROM generate_series(0, 59) i`,
      [types, iso(base)],
    );
    const to = base + 8 * HOUR;
    const reply = await getJson(`/api/errors?from=${iso(base)}&to=${iso(to)}&step=1h&limit=1000`);
    expect(reply.buckets).toHaveLength(8);
    expect(reply.buckets.reduce((n: number, b: { total: number }) => n + b.total, 0)).toBe(60);
    // 0..59 at 7-minute steps: the first hour holds i = 0..8.
    expect(reply.buckets[0].counts).toEqual({ ABOVE_MAX: 3, BELOW_MIN: 3, JSON_PARSE_ERROR: 3 });
    const row = reply.rows.find((r: { errorMessage: string }) => r.errorMessage === 'reason 5');
    expect(Buffer.from(row.rawBase64, 'base64')).toEqual(Buffer.concat([Buffer.from('bytes 5'), Buffer.from([0xff])]));
    expect(row).toMatchObject({ errorType: 'JSON_PARSE_ERROR', rawText: 'text 5', sensorId: 'e-1' });

    const walked = await walk(
      `/api/errors?from=${iso(base)}&to=${iso(to)}&limit=9`,
      (r) => (r as unknown as { rows: { errorMessage: string }[] }).rows,
    );
    expect(walked.map((r) => r.errorMessage).sort()).toEqual(
      Array.from({ length: 60 }, (_, i) => `reason ${i}`).sort(),
    );
    const filtered = await getJson(`/api/errors?from=${iso(base)}&to=${iso(to)}&type=BELOW_MIN&sensor=e-0`);
    expect(
      filtered.rows.every(
        (r: { errorType: string; sensorId: string }) => r.errorType === 'BELOW_MIN' && r.sensorId === 'e-0',
      ),
    ).toBe(true);
    expect(filtered.rows).toHaveLength(10);
  });
});

describe('GET /api/dq/runs, /api/health', () => {
  it('lists runs newest first with their outcome, the latest with its checks; health says what is late', async () => {
    // Whether a job that never ran is late depends on the database's age: api-health-first-start.test.ts.
    const health0 = await getJson('/api/health');
    expect(health0.aggregator).toMatchObject({ lastRunAt: null });
    expect(health0.dq).toMatchObject({ lastRunAt: null });
    expect(await getJson('/api/dq/runs/latest')).toEqual({ run: null });
    for (const [i, outcome] of ['pass', 'fail', 'warn'].entries()) {
      await api.db.query(
        `INSERT INTO dq_check_results (run_id, check_file, check_line, check_name, metric, outcome, thresholds, run_started_at)
         VALUES ($1, 'a.yml', 1, 'rows', 'row_count', 'pass', '> 0', now() - $2 * interval '5 minutes'),
                ($1, 'a.yml', 2, 'dups', 'duplicate_count', $3, '= 0', now() - $2 * interval '5 minutes')`,
        [`run-${i}`, 2 - i, outcome],
      );
    }
    const runs = await getJson('/api/dq/runs?limit=2');
    expect(runs.runs.map((r: { runId: string; outcome: string }) => [r.runId, r.outcome])).toEqual([
      ['run-2', 'warn'],
      ['run-1', 'fail'],
    ]);
    const rest = await getJson(`/api/dq/runs?limit=2&cursor=${runs.nextCursor}`);
    expect(rest.runs.map((r: { runId: string }) => r.runId)).toEqual(['run-0']);
    expect(rest.nextCursor).toBeNull();
    const latest = await getJson('/api/dq/runs/latest');
    expect(latest.run).toMatchObject({ runId: 'run-2', passed: 1, warned: 1 });
    expect(latest.run.checks.map((c: { name: string }) => c.name)).toEqual(['rows', 'dups']);

    await writeReadings(api.db, [{ sensor: 'h', at: iso(Date.now()), value: 1 }]);
    const pending = await getJson('/api/health');
    expect(pending.aggregator.pendingWindows).toBe(1);
    await runAggregator(api.db);
    const health = await getJson('/api/health');
    expect(health.aggregator).toMatchObject({ late: false, pendingWindows: 0 });
    expect(health.dq).toMatchObject({ late: false, outcome: 'warn' });
    expect(health.database).toEqual({ ok: true });
  });
});

describe('GET /api/changes', () => {
  it('reports new readings, alerts and runs since a cursor, with ETag and 304 when nothing changed', async () => {
    const start = await getJson('/api/changes');
    expect(start).toMatchObject({ sensors: [], alerts: [], dqRuns: [] });
    const now = Date.now();
    await writeReadings(
      api.db,
      [95, 96, 97].map((value, i) => ({ sensor: 'c1', at: iso(now - 3000 + i), value })),
    );
    await runAggregator(api.db);
    const changed = await api.request(`/api/changes?since=${start.cursor}`);
    // biome-ignore lint/suspicious/noExplicitAny: checked field by field
    const body = (await changed.json()) as any;
    expect(body.sensors.map((s: { sensorId: string }) => s.sensorId)).toEqual(['c1']);
    expect(body.alerts).toMatchObject([{ sensorId: 'c1', kind: 'high', closedAt: null }]);

    // Poll until the cursor settles (a change can be reported twice, never missed), then 304.
    let cursor = body.cursor;
    let etag: string | null = null;
    for (let i = 0; i < 20; i++) {
      const reply = await api.request(`/api/changes?since=${cursor}`);
      const json = (await reply.json()) as { cursor: string; sensors: unknown[] };
      if (json.cursor === cursor && json.sensors.length === 0) {
        etag = reply.headers.get('etag');
        break;
      }
      cursor = json.cursor;
    }
    expect(etag).toMatch(/^W\/"/);
    const notModified = await api.request(`/api/changes?since=${cursor}`, { headers: { 'if-none-match': etag ?? '' } });
    expect(notModified.status).toBe(304);

    await writeReadings(api.db, [{ sensor: 'c2', at: iso(Date.now()), value: 50 }]);
    const after = await api.request(`/api/changes?since=${cursor}`, { headers: { 'if-none-match': etag ?? '' } });
    expect(after.status).toBe(200);
    expect(((await after.json()) as { sensors: { sensorId: string }[] }).sensors.map((s) => s.sensorId)).toContain(
      'c2',
    );
  });
});
