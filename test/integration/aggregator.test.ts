/**
 * The aggregator against real PostgreSQL: window statistics, late readings, idempotence, and
 * readings committed concurrently with a run.
 */

import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INSERT_ONE_READING, PostgresPipelineStore, readingCells } from '#adapters/postgres/pipeline-store.js';
import { sleep } from '#adapters/retry.js';
import type { ReadingRow } from '#domain/reading.js';
import { classifyRecord } from '#domain/validation.js';
import type { AggregationSummary } from '#pipeline/aggregate-windows.js';
import { createTestDatabase } from '../support/database.js';
import { aPosition, aReading, encode, lambdaContext } from '../support/factories.js';
import { expectedWindows as expectedIn, expectSameWindows, storedWindows as storedIn } from '../support/windows.js';

const expectedWindows = () => expectedIn(db);
const storedWindows = () => storedIn(db);

let db: pg.Pool;

/** Waits until some session of this database waits on a lock the backend `pid` holds. */
async function waitForBlockedOn(pid: number): Promise<void> {
  for (;;) {
    const blocked = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND $1 = ANY(pg_blocking_pids(pid))',
      [pid],
    );
    if (Number(blocked.rows[0]?.n ?? 0) > 0) return;
    await sleep(20);
  }
}
let store: PostgresPipelineStore;
let aggregate: () => Promise<AggregationSummary>;

beforeAll(async () => {
  const url = await createTestDatabase('aggregator');
  Object.assign(process.env, {
    DATABASE_URL: url,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  db = new pg.Pool({ connectionString: url, max: 8 });
  store = new PostgresPipelineStore(db);
  const { handler } = await import('#lambdas/aggregator/handler.js');
  aggregate = () => handler({ id: 'scheduled-test' }, lambdaContext('aggregator'));
});
afterAll(async () => db?.end());
beforeEach(async () => db.query('TRUNCATE sensor_readings, sensor_aggregations, aggregation_dirty_windows'));

function row(sensorId: string, timestamp: string, value: number): ReadingRow {
  const result = classifyRecord(
    encode(aReading({ sensor_id: sensorId, timestamp, value, min: 0, max: 100 })),
    aPosition(),
    {
      payloadCapBytes: 65_536,
      now: new Date(),
    },
  );
  if (result.kind !== 'reading') throw new Error('factory made an invalid reading');
  return result.row;
}

describe('aggregator', () => {
  it('computes count, avg, min, max, sample stddev and alert counts per sensor and minute', async () => {
    await store.insertReadings([
      row('s1', '2026-11-26T12:00:00Z', 10),
      row('s1', '2026-11-26T12:00:30Z', 20),
      row('s1', '2026-11-26T12:00:59.999Z', 95),
      row('s1', '2026-11-26T12:01:00Z', 50),
      row('s2', '2026-11-26T09:00:15-03:00', 5),
    ]);
    const summary = await aggregate();
    expect(summary).toMatchObject({ windowsRecomputed: 3, readingsCovered: 5 });
    const windows = await storedWindows();
    expect(windows[0]).toMatchObject({
      sensor_id: 's1',
      window_start: '2026-11-26T12:00',
      reading_count: 3,
      min_value: 10,
      max_value: 95,
      high_alert_count: 1,
      low_alert_count: 1,
    });
    expect(windows[0]?.avg_value).toBeCloseTo(125 / 3, 12);
    expect(windows[0]?.stddev_value).toBeCloseTo(
      Math.sqrt(((10 - 125 / 3) ** 2 + (20 - 125 / 3) ** 2 + (95 - 125 / 3) ** 2) / 2),
      9,
    );
    expect(windows[1]).toMatchObject({ window_start: '2026-11-26T12:01', reading_count: 1, stddev_value: null });
    expect(windows[2]).toMatchObject({ sensor_id: 's2', window_start: '2026-11-26T12:00', low_alert_count: 1 });
    expectSameWindows(windows, await expectedWindows());
  });

  it('recomputes only the windows touched since its last run, late readings included, and is idempotent', async () => {
    await store.insertReadings([
      row('s1', '2026-11-26T12:00:10Z', 10),
      row('s1', '2026-11-26T12:05:10Z', 30),
      row('s2', '2026-11-26T12:05:10Z', 30),
    ]);
    await aggregate();
    const late = row('s1', '2026-11-26T12:00:50Z', 30);
    await store.insertReadings([late]);
    expect(await aggregate()).toMatchObject({ windowsRecomputed: 1, readingsCovered: 2 });
    expect(await aggregate()).toMatchObject({ windowsRecomputed: 0, readingsCovered: 0 });
    expectSameWindows(await storedWindows(), await expectedWindows());
    expect((await storedWindows())[0]).toMatchObject({ reading_count: 2, avg_value: 20 });
  });

  it('waits for a reading committed during its run into an already-marked window, and counts it', async () => {
    await store.insertReadings([row('s1', '2026-11-26T12:00:10Z', 10)]);
    const writer = await db.connect();
    try {
      await writer.query('BEGIN');
      // The trigger's upsert now holds the committed mark for s1 12:00 locked until COMMIT.
      await insertInOpenTransaction(writer, row('s1', '2026-11-26T12:00:20Z', 30));
      const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const run = aggregate();
      // Commit only once the run is seen blocked on the writer's lock: otherwise, on a busy
      // machine, the writer could commit first and the concurrent case would not be tested.
      await waitForBlockedOn(writerPid ?? -1);
      await writer.query('COMMIT');
      expect(await run).toMatchObject({ windowsRecomputed: 1, readingsCovered: 2 });
    } finally {
      writer.release();
    }
    expectSameWindows(await storedWindows(), await expectedWindows());
  });

  it('picks up on its next run a reading into a new window that commits after its run', async () => {
    await store.insertReadings([row('s1', '2026-11-26T12:00:10Z', 10)]);
    const writer = await db.connect();
    try {
      await writer.query('BEGIN');
      await insertInOpenTransaction(writer, row('s9', '2026-11-26T12:00:20Z', 30));
      expect(await aggregate()).toMatchObject({ windowsRecomputed: 1 });
      await writer.query('COMMIT');
    } finally {
      writer.release();
    }
    expect(await aggregate()).toMatchObject({ windowsRecomputed: 1, readingsCovered: 1 });
    expectSameWindows(await storedWindows(), await expectedWindows());
  });

  it('keeps windows exact whatever the process time zone, historic offsets with seconds included', async () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/Sao_Paulo'; // 1900: UTC-03:06:28
    try {
      await store.insertReadings([
        row('s1', '1900-01-01T09:59:40Z', 10),
        row('s1', '1900-01-01T10:00:10Z', 20),
        row('s1', '1900-01-01T10:00:50Z', 30),
      ]);
      expect(await aggregate()).toMatchObject({ windowsRecomputed: 2, readingsCovered: 3 });
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    expect((await storedWindows()).map((w) => [w.window_start, w.reading_count])).toEqual([
      ['1900-01-01T09:59', 1],
      ['1900-01-01T10:00', 2],
    ]);
  });

  it('misses nothing while many writers commit out of order during repeated runs', async () => {
    const sensors = ['a', 'b', 'c', 'd'];
    const minutes = ['12:00', '12:01', '12:02'];
    let stop = false;
    const runs = (async () => {
      while (!stop) await aggregate();
    })();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const rows = Array.from({ length: 5 }, (_, k) =>
            row(
              sensors[(w + i + k) % 4] as string,
              `2026-11-26T${minutes[(i + k) % 3]}:${String((i * 7 + k) % 60).padStart(2, '0')}Z`,
              (w * 13 + i * 7 + k) % 100,
            ),
          );
          await store.insertReadings(rows);
        }
      }),
    );
    stop = true;
    await runs;
    await aggregate();
    expect(Number((await db.query('SELECT count(*) AS n FROM sensor_readings')).rows[0].n)).toBe(4 * 40 * 5);
    expectSameWindows(await storedWindows(), await expectedWindows());
  });
});

/** Inserts one reading on a connection whose transaction the test keeps open. */
/** One reading through the store's own row insert, inside the caller's open transaction. */
async function insertInOpenTransaction(client: pg.PoolClient, r: ReadingRow): Promise<void> {
  await client.query(INSERT_ONE_READING, readingCells(r));
}
