/**
 * Fleets of known shape for the dashboard's browser tests and its README screenshot. Every row
 * goes in through the pipeline's own parts: readings and rejections are classified by the
 * validator's domain code and written by the pipeline store (whose trigger keeps the latest state
 * per sensor), and windows and alerts come from a run of the real aggregator.
 */
import type pg from 'pg';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import type { ErrorRecord, ReadingRow } from '#domain/reading.js';
import { classifyRecord } from '#domain/validation.js';
import { aPosition, aReading, encode } from './factories.js';

const MINUTE = 60_000;

export interface SensorKind {
  type: 'temperature' | 'humidity' | 'pressure';
  unit: string;
  min: number;
  max: number;
  /** A typical value and how far it wanders. */
  centre: number;
  swing: number;
}

export const KINDS: readonly SensorKind[] = [
  { type: 'temperature', unit: '°C', min: -40, max: 85, centre: 21, swing: 4 },
  { type: 'humidity', unit: '%', min: 0, max: 100, centre: 48, swing: 12 },
  { type: 'pressure', unit: 'hPa', min: 900, max: 1100, centre: 1013, swing: 6 },
];

const PREFIX: Record<SensorKind['type'], string> = { temperature: 'temp', humidity: 'hum', pressure: 'pres' };

export function kindOf(type: SensorKind['type']): SensorKind {
  return KINDS.find((k) => k.type === type) as SensorKind;
}

/** A valid reading row, classified by the validator's own code (so it is what the pipeline stores). */
export function readingRow(sensorId: string, kind: SensorKind, at: Date, value: number): ReadingRow {
  const payload = aReading({
    sensor_id: sensorId,
    sensor_type: kind.type,
    unit: kind.unit,
    min: kind.min,
    max: kind.max,
    value,
    timestamp: at.toISOString(),
  });
  const result = classifyRecord(encode(payload), aPosition({ partitionKey: sensorId }), {
    payloadCapBytes: 65_536,
    now: at,
  });
  if (result.kind !== 'reading') throw new Error(`fixture reading for ${sensorId} was rejected`);
  return result.row;
}

/** A rejected record of the given kind, as the validator would have described it. */
export function rejectionRow(
  sensorId: string,
  kind: SensorKind,
  at: Date,
  problem: 'ABOVE_MAX' | 'BELOW_MIN' | 'NULL_VALUE' | 'INACTIVE_SENSOR' | 'JSON_PARSE_ERROR',
): ErrorRecord {
  const overrides: Record<string, unknown> = {
    ABOVE_MAX: { value: kind.max + 50 },
    BELOW_MIN: { value: kind.min - 50 },
    NULL_VALUE: { value: null },
    INACTIVE_SENSOR: { status: 'maintenance' },
    JSON_PARSE_ERROR: {},
  }[problem] as Record<string, unknown>;
  const data =
    problem === 'JSON_PARSE_ERROR'
      ? encode(`{"sensor_id":"${sensorId}","value":`)
      : encode(
          aReading({
            sensor_id: sensorId,
            sensor_type: kind.type,
            unit: kind.unit,
            min: kind.min,
            max: kind.max,
            timestamp: at.toISOString(),
            ...overrides,
          }),
        );
  const result = classifyRecord(data, aPosition({ partitionKey: sensorId }), { payloadCapBytes: 65_536, now: at });
  if (result.kind !== 'error' || result.error.errorType !== problem)
    throw new Error(`fixture rejection ${problem} for ${sensorId} was classified otherwise`);
  return result.error;
}

export interface KnownFleet {
  /** Sensor ids by the status the API must report for them (thresholds 300 s / 3600 s). */
  ok: string[];
  stale: string[];
  offline: string[];
  /** A sensor with one reading a minute over the last hour and a hole of `gapMinutes` in it. */
  chart: { sensorId: string; unit: string; minutesWithData: Date[]; gapMinutes: Date[] };
}

/** Sensor ids in natural order, three kinds in turn: temp-0001, hum-0002, pres-0003, … */
export function fleetIds(count: number): { sensorId: string; kind: SensorKind }[] {
  return Array.from({ length: count }, (_, i) => {
    const kind = KINDS[i % KINDS.length] as SensorKind;
    return { sensorId: `${PREFIX[kind.type]}-${String(i + 1).padStart(4, '0')}`, kind };
  });
}

/**
 * `count` sensors with one reading each: most seen seconds ago (ok), `stale` of them 10 minutes
 * ago, `offline` of them 2 hours ago; plus the chart sensor's hour of minutes with a gap from
 * 35 to 26 minutes ago. Then one aggregator run, as the schedule would do.
 */
export async function seedKnownFleet(
  db: pg.Pool,
  aggregate: () => Promise<unknown>,
  options: { now: Date; count: number; stale: number; offline: number },
): Promise<KnownFleet> {
  const store = new PostgresPipelineStore(db);
  const now = options.now.getTime();
  const fleet: KnownFleet = {
    ok: [],
    stale: [],
    offline: [],
    chart: { sensorId: 'temp-chart', unit: '°C', minutesWithData: [], gapMinutes: [] },
  };
  const rows: ReadingRow[] = [];
  fleetIds(options.count).forEach(({ sensorId, kind }, i) => {
    const bucket = i < options.stale ? 'stale' : i < options.stale + options.offline ? 'offline' : 'ok';
    const ageMs = bucket === 'stale' ? 10 * MINUTE : bucket === 'offline' ? 120 * MINUTE : 5_000 + (i % 20) * 1000;
    fleet[bucket].push(sensorId);
    rows.push(readingRow(sensorId, kind, new Date(now - ageMs), kind.centre + ((i * 7) % 10) / 10));
  });
  const thisMinute = Math.floor(now / MINUTE) * MINUTE;
  const temperature = kindOf('temperature');
  for (let ago = 50; ago >= 10; ago--) {
    const minute = new Date(thisMinute - ago * MINUTE);
    if (ago <= 35 && ago >= 26) {
      fleet.chart.gapMinutes.push(minute);
      continue;
    }
    fleet.chart.minutesWithData.push(minute);
    for (const second of [5, 25, 45]) {
      const value = 20 + Math.sin(ago / 6) * 3 + second / 60;
      rows.push(readingRow(fleet.chart.sensorId, temperature, new Date(minute.getTime() + second * 1000), value));
    }
  }
  // Its newest reading is about 10 minutes old: stale, like the other stale ones.
  fleet.stale.push(fleet.chart.sensorId);
  await store.insertReadings(rows);
  await aggregate();
  return fleet;
}

/** A smooth daily cycle with a little noise, deterministic per sensor. */
function wave(kind: SensorKind, index: number, t: number): number {
  const phase = (index * 0.61) % (2 * Math.PI);
  const daily = Math.sin((2 * Math.PI * t) / 86_400_000 + phase);
  const ripple = Math.sin(t / 420_000 + index) * 0.25 + Math.sin(t / 97_000 + index * 3) * 0.1;
  return Math.round((kind.centre + kind.swing * (0.7 * daily + ripple)) * 100) / 100;
}

export interface RealisticFleet {
  alertSensor: string;
  gapSensor: string;
}

/**
 * A fleet that looks like a day at work, for the README screenshot: `count` sensors with a
 * reading a minute over `hours`, a few stale or offline, one with a high alert that opened and
 * closed and opened again, one silent for 40 minutes, and rejected records of several kinds.
 */
export async function seedRealisticFleet(
  db: pg.Pool,
  aggregate: () => Promise<unknown>,
  options: { now: Date; count: number; hours: number },
): Promise<RealisticFleet> {
  const store = new PostgresPipelineStore(db);
  const now = Math.floor(options.now.getTime() / 1000) * 1000;
  const ids = fleetIds(options.count);
  const alertSensor = ids[3]?.sensorId as string;
  const gapSensor = ids[9]?.sensorId as string;
  const quietFrom = now - 150 * MINUTE;
  for (const [index, { sensorId, kind }] of ids.entries()) {
    const rows: ReadingRow[] = [];
    const errors: ErrorRecord[] = [];
    // A few sensors went quiet: 2 stale (8 min), 1 offline (2 h).
    const lastAgo = index === 13 || index === 21 ? 8 * MINUTE : index === 17 ? 2 * 60 * MINUTE : (index % 40) * 1000;
    for (let t = now - options.hours * 60 * MINUTE; t <= now - lastAgo; t += MINUTE) {
      if (sensorId === gapSensor && t > quietFrom && t < quietFrom + 40 * MINUTE) continue;
      let value = wave(kind, index, t);
      const ago = (now - t) / MINUTE;
      if (sensorId === alertSensor && ((ago > 95 && ago < 110) || ago < 12))
        value = kind.min + (kind.max - kind.min) * (0.91 + ((ago * 7) % 9) / 200);
      rows.push(readingRow(sensorId, kind, new Date(t + (index % 50) * 1000), value));
      const minute = Math.round(t / MINUTE);
      if ((minute + index * 13) % 37 === 0) {
        const problem = (['ABOVE_MAX', 'BELOW_MIN', 'NULL_VALUE', 'INACTIVE_SENSOR', 'JSON_PARSE_ERROR'] as const)[
          (minute * 3 + index) % 5
        ] as Parameters<typeof rejectionRow>[3];
        errors.push(rejectionRow(sensorId, kind, new Date(t + 30_000), problem));
      }
    }
    await store.insertReadings(rows);
    if (errors.length) await store.insertErrors(errors);
  }
  await aggregate();
  return { alertSensor, gapSensor };
}
