/**
 * The reference for aggregation tests: 1-minute windows recomputed in TypeScript from the
 * readings stored, compared with what the aggregator wrote to sensor_aggregations.
 */
import type pg from 'pg';
import { expect } from 'vitest';

export interface Window {
  sensor_id: string;
  window_start: string;
  reading_count: number;
  avg_value: number;
  min_value: number;
  max_value: number;
  stddev_value: number | null;
  high_alert_count: number;
  low_alert_count: number;
}

const MINUTE = `to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI')`;

/** Windows computed here from sensor_readings (count, mean, min, max, sample stddev, alerts). */
export async function expectedWindows(db: pg.Pool): Promise<Window[]> {
  const rows = (
    await db.query<{ sensor_id: string; minute: string; value: number; high_alert: boolean; low_alert: boolean }>(
      `SELECT sensor_id, ${MINUTE.replace('%s', 'event_time')} AS minute, value, high_alert, low_alert FROM sensor_readings`,
    )
  ).rows;
  const groups = new Map<string, typeof rows>();
  for (const r of rows) {
    const key = `${r.sensor_id}|${r.minute}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.entries()]
    .map(([key, rs]) => {
      const values = rs.map((r) => r.value);
      const n = values.length;
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : null;
      const [sensor_id, window_start] = key.split('|') as [string, string];
      return {
        sensor_id,
        window_start,
        reading_count: n,
        avg_value: mean,
        min_value: Math.min(...values),
        max_value: Math.max(...values),
        stddev_value: variance === null ? null : Math.sqrt(variance),
        high_alert_count: rs.filter((r) => r.high_alert).length,
        low_alert_count: rs.filter((r) => r.low_alert).length,
      };
    })
    .sort(byKey);
}

/** The windows in sensor_aggregations, in the same shape and order. */
export async function storedWindows(db: pg.Pool): Promise<Window[]> {
  const rows = (
    await db.query<Window>(
      `SELECT sensor_id, ${MINUTE.replace('%s', 'window_start')} AS window_start, reading_count,
              avg_value, min_value, max_value, stddev_value, high_alert_count, low_alert_count
       FROM sensor_aggregations`,
    )
  ).rows;
  return rows.sort(byKey);
}

function byKey(a: Window, b: Window): number {
  return a.sensor_id === b.sensor_id
    ? a.window_start.localeCompare(b.window_start)
    : a.sensor_id < b.sensor_id
      ? -1
      : 1;
}

export function expectSameWindows(actual: Window[], expected: Window[]): void {
  expect(
    actual.map((w) => [w.sensor_id, w.window_start, w.reading_count, w.high_alert_count, w.low_alert_count]),
  ).toEqual(expected.map((w) => [w.sensor_id, w.window_start, w.reading_count, w.high_alert_count, w.low_alert_count]));
  actual.forEach((w, i) => {
    const e = expected[i] as Window;
    expect(w.avg_value).toBeCloseTo(e.avg_value, 9);
    expect(w.min_value).toBe(e.min_value);
    expect(w.max_value).toBe(e.max_value);
    if (e.stddev_value === null) expect(w.stddev_value).toBeNull();
    else expect(w.stddev_value).toBeCloseTo(e.stddev_value, 9);
  });
}

/** The aggregator's output equals the reference recomputed from the readings. */
export async function expectAggregationsMatchReadings(db: pg.Pool): Promise<void> {
  const expected = await expectedWindows(db);
  expect(expected.length).toBeGreaterThan(0);
  expectSameWindows(await storedWindows(db), expected);
}
