/**
 * Two promises of the schema that nothing else pins:
 *
 * - the text limits (unit 32, manufacturer and model 128 characters) hold at both ends and
 *   agree: the validator's schema accepts exactly what the table's check constraint accepts,
 *   counted in characters (a multi-byte unit at the limit passes both), so a reading is never
 *   accepted by one and refused by the other;
 * - the reporting views (`latest_sensor_status`, `hourly_sensor_summary`, `dq_error_rate`)
 *   return what a reference computed here, in TypeScript, from the table rows says they should.
 *   The rows span several sensors, hours and error types, with ties on event time.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '#domain/reading.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { createTestDatabase } from '../support/database.js';
import { aPosition, aReading, encode } from '../support/factories.js';

let db: pg.Pool;
let store: PostgresPipelineStore;

beforeAll(async () => {
  db = new pg.Pool({ connectionString: await createTestDatabase('limits_views'), max: 2 });
  store = new PostgresPipelineStore(db);
});
afterAll(async () => {
  await db?.end();
});

function classify(payloads: unknown[], now = new Date('2026-11-26T12:00:40Z')) {
  return classifyBatch(
    payloads.map((p) => ({ data: encode(p), position: aPosition() })),
    { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now },
  );
}

const LIMITS = { unit: 32, manufacturer: 128, model: 128 } as const;

describe('text limits of a reading', () => {
  for (const [field, limit] of Object.entries(LIMITS)) {
    it(`${field}: ${limit} characters pass the validator and the table, ${limit + 1} are a SCHEMA_ERROR`, async () => {
      // '°' is two bytes in UTF-8: a limit counted in bytes anywhere would refuse these.
      const atLimit = aReading({ sensor_id: `lim-${field}`, [field]: '°'.repeat(limit) });
      const over = aReading({ sensor_id: `lim-${field}`, [field]: 'x'.repeat(limit + 1) });
      const batch = classify([atLimit, over]);
      expect(batch.rows).toHaveLength(1);
      expect(batch.rejections).toHaveLength(1);
      expect(batch.rejections[0]?.errorType).toBe('SCHEMA_ERROR');
      expect(batch.rejections[0]?.errorMessage).toContain(field);
      expect(batch.rejections[0]?.errorMessage).toContain(`at most ${limit} characters`);
      // The table takes what the validator accepted, as it is.
      expect((await store.insertReadings(batch.rows)).inserted).toBe(1);
      const column = field as keyof typeof LIMITS;
      const stored = await db.query(`SELECT ${column} AS v FROM sensor_readings WHERE sensor_id = $1`, [
        `lim-${field}`,
      ]);
      expect(stored.rows).toEqual([{ v: '°'.repeat(limit) }]);
      // And refuses one character more by itself, whoever writes it.
      await expect(
        db.query(`UPDATE sensor_readings SET ${column} = $1 || ${column} WHERE sensor_id = $2`, ['x', `lim-${field}`]),
      ).rejects.toMatchObject({ code: '23514' });
    });
  }
});

interface Row {
  sensor_id: string;
  sensor_type: string;
  status: string;
  value: number;
  unit: string;
  normalized_value: number;
  high_alert: boolean;
  low_alert: boolean;
  event_time: Date;
  processing_time: Date;
}

const hourOf = (d: Date): string => `${d.toISOString().slice(0, 13)}:00:00.000Z`;

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

describe('the reporting views against a reference', () => {
  beforeAll(async () => {
    await db.query('TRUNCATE sensor_readings, sensor_errors');
    const sensors = [
      { sensor_id: 'view-t', sensor_type: 'temperature', unit: '°C', min: -40, max: 85 },
      { sensor_id: 'view-h', sensor_type: 'humidity', unit: '%', min: 0, max: 100 },
      { sensor_id: 'view-p', sensor_type: 'pressure', unit: 'hPa', min: 300, max: 1100 },
    ];
    // Three processing hours; each batch has readings over two event hours, near the limits
    // (alerts), a tie on event time for one sensor, and rejections of several kinds.
    const hours = ['2026-11-26T10:', '2026-11-26T11:', '2026-11-26T13:'];
    for (const [h, prefix] of hours.entries()) {
      const payloads: unknown[] = [];
      for (const [s, sensor] of sensors.entries()) {
        for (let i = 0; i < 5 + s + h; i++) {
          const span = sensor.max - sensor.min;
          const value = sensor.min + span * (((i * 37 + s * 11 + h * 5) % 100) / 99);
          const minute = String((i * 13) % 60).padStart(2, '0');
          const eventHour = i % 2 === 0 ? prefix : `2026-11-26T0${h + 7}:`;
          payloads.push(aReading({ ...sensor, value, timestamp: `${eventHour}${minute}:30Z` }));
        }
      }
      // A tie on event time for view-t, broken by processing time across batches.
      payloads.push(aReading({ ...sensors[0], value: 10 + h, timestamp: '2026-11-26T13:59:59Z' }));
      payloads.push(
        'not json',
        aReading({ value: null }),
        aReading({ value: 1_000 }),
        aReading({ status: 'inactive' }),
      );
      for (let e = 0; e < h; e++) payloads.push(aReading({ value: -1_000 }));
      const batch = classify(payloads, new Date(`${prefix}20:00Z`));
      expect(batch.rejections.length).toBe(4 + h);
      await store.insertReadings(batch.rows);
      await store.insertErrors(batch.rejections);
    }
  });

  async function readings(): Promise<Row[]> {
    const out = await db.query<Row>(
      `SELECT sensor_id, sensor_type, status, value, unit, normalized_value, high_alert, low_alert,
              event_time, processing_time FROM sensor_readings`,
    );
    expect(out.rows.length).toBeGreaterThan(50);
    return out.rows;
  }

  it('latest_sensor_status: per sensor, the reading with the latest event time (then processing time)', async () => {
    const rows = await readings();
    const expected = [...groupBy(rows, (r) => r.sensor_id).values()]
      .map(
        (list) =>
          [...list].sort(
            (a, b) =>
              b.event_time.getTime() - a.event_time.getTime() ||
              b.processing_time.getTime() - a.processing_time.getTime(),
          )[0] as Row,
      )
      .sort((a, b) => a.sensor_id.localeCompare(b.sensor_id));
    const view = await db.query<Row>(
      `SELECT sensor_id, sensor_type, status, value, unit, normalized_value, high_alert, low_alert,
              event_time, processing_time FROM latest_sensor_status ORDER BY sensor_id`,
    );
    expect(view.rows).toEqual(expected);
    // The tie on event time was there, and the later batch won it.
    expect(expected.find((r) => r.sensor_id === 'view-t')?.value).toBe(12);
  });

  it('hourly_sensor_summary: count, mean, min, max, sample stddev and alert counts per sensor and UTC hour', async () => {
    const rows = await readings();
    const expected = [...groupBy(rows, (r) => `${r.sensor_id}|${hourOf(r.event_time)}`).values()].map((list) => {
      const values = list.map((r) => r.value);
      const n = values.length;
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : Number.NaN;
      const first = list[0] as Row;
      return {
        sensor_id: first.sensor_id,
        hour_start: hourOf(first.event_time),
        sensor_type: first.sensor_type,
        unit: first.unit,
        reading_count: n,
        avg_value: mean,
        min_value: Math.min(...values),
        max_value: Math.max(...values),
        stddev_value: n > 1 ? Math.sqrt(variance) : null,
        high_alert_count: list.filter((r) => r.high_alert).length,
        low_alert_count: list.filter((r) => r.low_alert).length,
      };
    });
    expect(expected.length).toBeGreaterThan(9);
    expect(expected.some((e) => e.high_alert_count > 0) && expected.some((e) => e.low_alert_count > 0)).toBe(true);
    const view = await db.query(
      `SELECT sensor_id, hour_start, sensor_type, unit, reading_count::int, avg_value, min_value, max_value,
              stddev_value, high_alert_count::int, low_alert_count::int
       FROM hourly_sensor_summary`,
    );
    const byKey = new Map(view.rows.map((r) => [`${r.sensor_id}|${(r.hour_start as Date).toISOString()}`, r]));
    expect(byKey.size).toBe(expected.length);
    for (const e of expected) {
      const got = byKey.get(`${e.sensor_id}|${e.hour_start}`);
      expect(got, `${e.sensor_id} ${e.hour_start}`).toBeDefined();
      const { avg_value, stddev_value, hour_start, ...exact } = got as Record<string, unknown>;
      expect(exact).toEqual({
        sensor_id: e.sensor_id,
        sensor_type: e.sensor_type,
        unit: e.unit,
        reading_count: e.reading_count,
        min_value: e.min_value,
        max_value: e.max_value,
        high_alert_count: e.high_alert_count,
        low_alert_count: e.low_alert_count,
      });
      expect(avg_value as number).toBeCloseTo(e.avg_value, 9);
      if (e.stddev_value === null) expect(stddev_value).toBeNull();
      else expect(stddev_value as number).toBeCloseTo(e.stddev_value, 9);
    }
  });

  it('dq_error_rate: per processing hour, each error type and ALL, against valid and total counts', async () => {
    const rows = await readings();
    const errors = (
      await db.query<{ error_type: string; error_time: Date }>('SELECT error_type, error_time FROM sensor_errors')
    ).rows;
    const records = [
      ...rows.map((r) => ({ hour: hourOf(r.processing_time), type: null as string | null })),
      ...errors.map((e) => ({ hour: hourOf(e.error_time), type: e.error_type as string | null })),
    ];
    const expected: Record<string, unknown>[] = [];
    for (const [hour, list] of groupBy(records, (r) => r.hour)) {
      const total = list.length;
      const valid = list.filter((r) => r.type === null).length;
      const failed = list.filter((r) => r.type !== null);
      const types = [...groupBy(failed, (r) => r.type as string)].map(([type, l]) => [type, l.length] as const);
      for (const [type, n] of [...types, ['ALL', failed.length] as const])
        expected.push({
          hour_start: hour,
          error_type: type,
          error_count: n,
          valid_count: valid,
          total_count: total,
          error_rate: (Math.round((n / total) * 10_000) / 10_000).toFixed(4),
        });
    }
    expect(new Set(expected.map((e) => e.error_type)).size).toBeGreaterThan(4);
    const view = await db.query(
      `SELECT hour_start, error_type, error_count::int, valid_count::int, total_count::int, error_rate::text
       FROM dq_error_rate`,
    );
    const sortKey = (r: Record<string, unknown>): string => `${String(r.hour_start)}|${String(r.error_type)}`;
    const got = view.rows
      .map((r) => ({ ...r, hour_start: (r.hour_start as Date).toISOString() }))
      .sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    expect(got).toEqual(expected.sort((a, b) => sortKey(a).localeCompare(sortKey(b))));
  });
});
