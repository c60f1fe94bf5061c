/**
 * Reading alerts on real PostgreSQL, evaluated by the aggregator's run: N consecutive readings at
 * or beyond an alert level open an alert, the first reading back closes it; late and duplicate
 * readings never open or close one twice.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiRow, runAggregator, writeReadings } from '../support/api-fixtures.js';
import { createTestDatabase } from '../support/database.js';

let db: pg.Pool;

interface AlertRow {
  sensor_id: string;
  kind: string;
  opened_at: string;
  closed_at: string | null;
  reading_count: number;
  peak_value: number;
  opening: number[];
}

async function alerts(): Promise<AlertRow[]> {
  const { rows } = await db.query<AlertRow>(
    `SELECT sensor_id, kind, to_char(opened_at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS opened_at,
            to_char(closed_at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS closed_at, reading_count, peak_value,
            (SELECT array_agg((e->>'value')::float8) FROM jsonb_array_elements(opening_readings) e) AS opening
     FROM alerts ORDER BY alert_id`,
  );
  return rows;
}

const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, s)).toISOString();

beforeAll(async () => {
  db = new pg.Pool({ connectionString: await createTestDatabase('api_alerts'), max: 4 });
});
afterAll(async () => db?.end());
beforeEach(async () =>
  db.query(
    'TRUNCATE sensor_readings, sensor_aggregations, aggregation_dirty_windows, alerts, alert_state, sensor_latest',
  ),
);

describe('reading alerts', () => {
  it('opens after N consecutive high readings and closes at the first reading back', async () => {
    const values = [50, 95, 96, 50, 91, 92, 99, 97, 40, 45];
    await writeReadings(
      db,
      values.map((value, i) => ({ sensor: 's1', at: at(i), value })),
    );
    await runAggregator(db, 3);
    expect(await alerts()).toEqual([
      {
        sensor_id: 's1',
        kind: 'high',
        opened_at: '12:00:06',
        closed_at: '12:00:08',
        reading_count: 4,
        peak_value: 99,
        opening: [91, 92, 99],
      },
    ]);
  });

  it('opens low alerts, switches straight from high to low, and keeps one open alert per sensor', async () => {
    const values = [95, 95, 95, 5, 5, 5, 5];
    await writeReadings(
      db,
      values.map((value, i) => ({ sensor: 's2', at: at(i), value })),
    );
    await runAggregator(db, 3);
    const rows = await alerts();
    expect(rows.map((r) => [r.kind, r.opened_at, r.closed_at])).toEqual([
      ['high', '12:00:02', '12:00:03'],
      ['low', '12:00:05', null],
    ]);
  });

  it('carries a run across aggregator runs and closes an alert opened in an earlier run', async () => {
    await writeReadings(db, [
      { sensor: 's3', at: at(0), value: 95 },
      { sensor: 's3', at: at(1), value: 95 },
    ]);
    await runAggregator(db, 3);
    expect(await alerts()).toEqual([]);
    await writeReadings(db, [{ sensor: 's3', at: at(2), value: 95 }]);
    await runAggregator(db, 3);
    expect((await alerts()).map((r) => [r.opened_at, r.closed_at])).toEqual([['12:00:02', null]]);
    await writeReadings(db, [{ sensor: 's3', at: at(3), value: 50 }]);
    await runAggregator(db, 3);
    expect((await alerts()).map((r) => [r.opened_at, r.closed_at])).toEqual([['12:00:02', '12:00:03']]);
  });

  it('ignores duplicate readings: a redelivered batch and a retried reading_id open nothing twice', async () => {
    const rows = [95, 95, 95, 50].map((value, i) => apiRow({ sensor: 's4', at: at(i), value }));
    await writeReadings(db, rows);
    await runAggregator(db, 3);
    const before = await alerts();
    expect(before).toHaveLength(1);
    // The same stream positions again, and the same reading_ids at new positions.
    await writeReadings(db, rows);
    const retried = [95, 95, 95, 50].map((value, i) => ({
      sensor: 's4',
      at: at(i),
      value,
      readingId: rows[i]?.readingId ?? undefined,
    }));
    await writeReadings(db, retried);
    await runAggregator(db, 3);
    expect(await alerts()).toEqual(before);
  });

  it('ignores late readings: one that arrives after the state moved past it neither opens nor closes', async () => {
    await writeReadings(db, [
      { sensor: 's5', at: at(10), value: 95 },
      { sensor: 's5', at: at(11), value: 95 },
      { sensor: 's5', at: at(12), value: 95 },
    ]);
    await runAggregator(db, 3);
    const opened = await alerts();
    expect(opened.map((r) => [r.opened_at, r.closed_at])).toEqual([['12:00:12', null]]);
    // Late: a normal reading from before the alert (would have "closed" it), and three high ones.
    await writeReadings(db, [
      { sensor: 's5', at: at(5), value: 50 },
      { sensor: 's5', at: at(1), value: 99 },
      { sensor: 's5', at: at(2), value: 99 },
      { sensor: 's5', at: at(3), value: 99 },
    ]);
    await runAggregator(db, 3);
    expect(await alerts()).toEqual(opened);
    // Readings in order still work after the late ones.
    await writeReadings(db, [{ sensor: 's5', at: at(13), value: 50 }]);
    await runAggregator(db, 3);
    expect((await alerts()).map((r) => [r.opened_at, r.closed_at])).toEqual([['12:00:12', '12:00:13']]);
  });

  it('evaluates a batch that arrives out of order in event-time order', async () => {
    await writeReadings(db, [
      { sensor: 's6', at: at(3), value: 95 },
      { sensor: 's6', at: at(1), value: 95 },
      { sensor: 's6', at: at(4), value: 50 },
      { sensor: 's6', at: at(2), value: 95 },
    ]);
    await runAggregator(db, 3);
    expect((await alerts()).map((r) => [r.opened_at, r.closed_at])).toEqual([['12:00:03', '12:00:04']]);
  });

  it('uses the configured N', async () => {
    await writeReadings(
      db,
      [95, 95, 50, 95, 95, 95, 95, 95].map((value, i) => ({ sensor: 's7', at: at(i), value })),
    );
    await runAggregator(db, 5);
    expect((await alerts()).map((r) => [r.opened_at, r.closed_at])).toEqual([['12:00:07', null]]);
  });
});
