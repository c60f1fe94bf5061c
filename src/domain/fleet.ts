/**
 * A simulated fleet of sensors and the readings it sends: the producer's domain, pure and free
 * of AWS SDK imports.
 *
 * The original producer drew a fresh random sensor for every reading, so 1-minute windows per
 * sensor rarely held more than one reading. Here the fleet is a fixed set of sensors whose
 * identity and characteristics depend only on their index, so every invocation (whatever its
 * seed, count or size) talks about the same devices and their windows really aggregate.
 *
 * Every generated record carries the outcome the validator must reach for it (at most one
 * fault per reading, so the validator's precedence never has to pick between two). A caller can
 * then check the pipeline's rows against {@link Simulation.expected} exactly, not roughly.
 *
 * Determinism: a local Faker instance (never the global one, which other code may reseed),
 * reseeded per sensor and per simulation. Same seed, same start time, same options: the same
 * bytes, record for record.
 */
import { base, en, Faker } from '@faker-js/faker';
import { z } from 'zod';
import { SENSOR_TYPES, type SensorType } from './reading.js';

/** What the validator should make of a record: a stored reading, or one error type. */
export const EXPECTED_OUTCOMES = [
  'valid',
  'INACTIVE_SENSOR',
  'BELOW_MIN',
  'ABOVE_MAX',
  'NULL_VALUE',
  'JSON_PARSE_ERROR',
  'SCHEMA_ERROR',
] as const;
export type ExpectedOutcome = (typeof EXPECTED_OUTCOMES)[number];
export type InjectedFault = Exclude<ExpectedOutcome, 'valid'>;
export type FaultRates = Readonly<Record<InjectedFault, number>>;
export type OutcomeCounts = Record<ExpectedOutcome, number>;

/**
 * The original's defaults: 25% of readings from sensors in maintenance (so 75% active), plus
 * out-of-range and missing values. Malformed JSON and schema errors never came from the
 * original's producer; they are opt-in so an end-to-end run can exercise every error type.
 */
export const DEFAULT_FAULT_RATES: FaultRates = {
  INACTIVE_SENSOR: 0.25,
  BELOW_MIN: 0.05,
  ABOVE_MAX: 0.05,
  NULL_VALUE: 0.02,
  JSON_PARSE_ERROR: 0,
  SCHEMA_ERROR: 0,
};

/** Order in which a reading's single uniform draw is mapped onto faults (then "valid"). */
const FAULTS: readonly InjectedFault[] = [
  'INACTIVE_SENSOR',
  'BELOW_MIN',
  'ABOVE_MAX',
  'NULL_VALUE',
  'JSON_PARSE_ERROR',
  'SCHEMA_ERROR',
];

const rate = z
  .number({ message: 'must be a number between 0 and 1' })
  .min(0, 'must be between 0 and 1')
  .max(1, 'must be between 0 and 1');

/**
 * Rates a caller may override, each a probability. Strict, so a misspelt fault name fails
 * instead of silently leaving the default; the sum may not exceed 1 because each reading
 * carries at most one fault.
 */
export const faultRatesSchema = z
  .strictObject({
    INACTIVE_SENSOR: rate.optional(),
    BELOW_MIN: rate.optional(),
    ABOVE_MAX: rate.optional(),
    NULL_VALUE: rate.optional(),
    JSON_PARSE_ERROR: rate.optional(),
    SCHEMA_ERROR: rate.optional(),
  })
  .transform((partial): FaultRates => ({ ...DEFAULT_FAULT_RATES, ...stripUndefined(partial) }))
  .superRefine((rates, ctx) => {
    const sum = FAULTS.reduce((total, fault) => total + rates[fault], 0);
    // A small tolerance: 0.7 + 0.2 + 0.1 is 1.0000000000000002 in binary floating point.
    if (sum > 1 + 1e-9) {
      ctx.addIssue({
        code: 'custom',
        message: `the rates (defaults included) add up to ${Number(sum.toFixed(6))}; at most 1 is possible, one fault per reading`,
      });
    }
  });

function stripUndefined<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Merges overrides into the defaults; throws a RangeError naming every bad rate. */
export function resolveFaultRates(overrides: Partial<FaultRates> = {}): FaultRates {
  const result = faultRatesSchema.safeParse(overrides);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.join('.');
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  throw new RangeError(`Invalid fault rates: ${problems.join('; ')}`);
}

export interface Sensor {
  readonly sensorId: string;
  readonly sensorType: SensorType;
  readonly unit: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly min: number;
  readonly max: number;
  /** Where this device's readings cluster: a freezer probe and a boiler probe differ. */
  readonly baseline: number;
  /** Half-width of the noise around the baseline. */
  readonly spread: number;
  /** Decimal places this kind of device reports. */
  readonly fractionDigits: number;
}

interface TypeProfile {
  readonly idPrefix: string;
  readonly unit: string;
  /** Rated ranges of common devices of this kind (datasheet-like: digital probes, MEMS barometers). */
  readonly ranges: readonly (readonly [number, number])[];
  /** Where installed devices of this kind usually sit (narrower than the rated range). */
  readonly operating: readonly [number, number];
  readonly spread: number;
  readonly fractionDigits: number;
}

const PROFILES: Readonly<Record<SensorType, TypeProfile>> = {
  temperature: {
    idPrefix: 'temp',
    unit: '°C',
    ranges: [
      [-55, 125],
      [-40, 125],
      [-55, 150],
    ],
    operating: [-25, 45],
    spread: 1.5,
    fractionDigits: 2,
  },
  humidity: { idPrefix: 'hum', unit: '%', ranges: [[0, 100]], operating: [20, 90], spread: 4, fractionDigits: 1 },
  pressure: {
    idPrefix: 'pres',
    unit: 'hPa',
    ranges: [
      [300, 1100],
      [260, 1260],
    ],
    operating: [950, 1050],
    spread: 3,
    fractionDigits: 1,
  },
};

/** Fleet identity does not depend on the invocation's seed (see the module comment). */
export const DEFAULT_FLEET_SEED = 20_240_601;

export const INACTIVE_STATUS = 'maintenance';

function newFaker(): Faker {
  return new Faker({ locale: [en, base] });
}

function round(value: number, fractionDigits: number): number {
  const factor = 10 ** fractionDigits;
  return Math.round(value * factor) / factor;
}

/**
 * The first `size` sensors of the fleet. Sensor i is the same device in every fleet that has
 * it (a fleet of 50 is the first 50 of a fleet of 100), because it is drawn from a Faker
 * seeded with `[fleetSeed, i]` alone.
 */
export function createFleet(size: number, fleetSeed: number = DEFAULT_FLEET_SEED): Sensor[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`fleet size must be a positive integer, got ${size}`);
  const faker = newFaker();
  return Array.from({ length: size }, (_, index) => {
    faker.seed([fleetSeed, index]);
    const sensorType = SENSOR_TYPES[index % SENSOR_TYPES.length] as SensorType;
    const profile = PROFILES[sensorType];
    const [min, max] = faker.helpers.arrayElement(profile.ranges);
    return {
      sensorId: `${profile.idPrefix}-${String(index).padStart(4, '0')}`,
      sensorType,
      unit: profile.unit,
      manufacturer: faker.company.name(),
      model: `${faker.string.alpha({ length: 2, casing: 'upper' })}-${faker.number.int({ min: 100, max: 999 })}`,
      min,
      max,
      baseline: round(
        faker.number.float({ min: profile.operating[0], max: profile.operating[1] }),
        profile.fractionDigits,
      ),
      spread: profile.spread,
      fractionDigits: profile.fractionDigits,
    };
  });
}

export interface SimulationOptions {
  /** Readings to generate. */
  readonly count: number;
  /** Fleet size; sensors report in turn, so each gets about count / sensors readings. */
  readonly sensors: number;
  readonly seed: number;
  /** Event time of the first tick; injected so that tests (and replays) are deterministic. */
  readonly startTime: Date;
  /** Time between two reports of the same sensor (the original sent a batch every 2 s). */
  readonly intervalMs: number;
  readonly rates?: Partial<FaultRates>;
  readonly fleetSeed?: number;
}

export interface SimulatedRecord {
  /** The sensor_id: Kinesis keeps one sensor's records on one shard, in order. */
  readonly partitionKey: string;
  /** UTF-8 bytes as they go on the stream (malformed on purpose for JSON_PARSE_ERROR). */
  readonly data: Uint8Array;
  readonly expected: ExpectedOutcome;
  readonly readingId: string;
  readonly sensorId: string;
}

export interface Simulation {
  readonly fleet: readonly Sensor[];
  readonly rates: FaultRates;
  readonly records: readonly SimulatedRecord[];
  readonly expected: OutcomeCounts;
}

export function emptyCounts(): OutcomeCounts {
  return Object.fromEntries(EXPECTED_OUTCOMES.map((outcome) => [outcome, 0])) as OutcomeCounts;
}

export function countOutcomes(records: readonly Pick<SimulatedRecord, 'expected'>[]): OutcomeCounts {
  const counts = emptyCounts();
  for (const record of records) counts[record.expected]++;
  return counts;
}

/** Field order of docs/DESIGN.md section 3, so the bytes read like the contract. */
interface WireReading {
  reading_id: string;
  sensor_id: string;
  sensor_type: string;
  value: number | string | null;
  unit: string;
  manufacturer: string;
  model: string;
  min: number;
  max: number;
  status: string;
  timestamp?: string;
}

const encoder = new TextEncoder();

function pickOutcome(u: number, rates: FaultRates): ExpectedOutcome {
  let cumulative = 0;
  for (const fault of FAULTS) {
    cumulative += rates[fault];
    if (u < cumulative) return fault;
  }
  return 'valid';
}

/** A value inside [min, max] near the sensor's baseline: what a healthy device reports. */
function normalValue(faker: Faker, sensor: Sensor): number {
  const noisy = sensor.baseline + faker.number.float({ min: -sensor.spread, max: sensor.spread });
  return Math.min(sensor.max, Math.max(sensor.min, round(noisy, sensor.fractionDigits)));
}

/** Strictly outside the range by a visible margin, so rounding can never land on the boundary. */
function outOfRange(faker: Faker, sensor: Sensor, side: 'below' | 'above'): number {
  const step = 10 ** -sensor.fractionDigits;
  const margin = Math.max(
    step,
    round(faker.number.float({ min: 0.5, max: 0.1 * (sensor.max - sensor.min) }), sensor.fractionDigits),
  );
  return side === 'below'
    ? round(sensor.min - margin, sensor.fractionDigits)
    : round(sensor.max + margin, sensor.fractionDigits);
}

/**
 * Each variant is a mistake real senders make; all are JSON_PARSE_ERROR whatever else the
 * record says, because parsing is checked before the schema.
 */
function malformedJson(faker: Faker, reading: WireReading): Uint8Array {
  const variant = faker.helpers.arrayElement(['truncated', 'nan-literal', 'invalid-utf8'] as const);
  const text = JSON.stringify(reading);
  switch (variant) {
    case 'truncated':
      return encoder.encode(text.slice(0, -1));
    case 'nan-literal':
      // `"value":null` can only be the key itself: inside a string the quotes would be escaped.
      return encoder.encode(JSON.stringify({ ...reading, value: null }).replace('"value":null', '"value":NaN'));
    case 'invalid-utf8': {
      const bytes = encoder.encode(text);
      const out = new Uint8Array(bytes.length + 1);
      out.set(bytes.subarray(0, 1));
      out[1] = 0xff; // never valid in UTF-8
      out.set(bytes.subarray(1), 2);
      return out;
    }
  }
}

/** Each variant breaks exactly one schema rule of docs/DESIGN.md section 3 while staying valid JSON. */
function schemaViolation(faker: Faker, reading: WireReading): WireReading {
  const variant = faker.helpers.arrayElement([
    'value-as-string',
    'no-offset',
    'missing-timestamp',
    'min-not-below-max',
    'unknown-type',
  ] as const);
  switch (variant) {
    case 'value-as-string':
      return { ...reading, value: String(reading.value) };
    case 'no-offset':
      return { ...reading, timestamp: (reading.timestamp ?? '').replace(/Z$/, '') };
    case 'missing-timestamp': {
      const { timestamp: _dropped, ...rest } = reading;
      return rest;
    }
    case 'min-not-below-max':
      return { ...reading, min: reading.max, max: reading.min };
    case 'unknown-type':
      return { ...reading, sensor_type: 'co2' };
  }
}

function checkSimulationOptions({ count, sensors, startTime, intervalMs }: SimulationOptions): void {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(intervalMs) || intervalMs < 0)
    throw new RangeError(`intervalMs must be a non-negative integer, got ${intervalMs}`);
  if (Number.isNaN(startTime.getTime())) throw new RangeError('startTime is not a valid date');
  if (!Number.isInteger(sensors) || sensors < 1)
    throw new RangeError(`sensors must be a positive integer, got ${sensors}`);
}

/** The reading a healthy sensor would send; `status` already carries the inactive fault. */
function healthyReading(faker: Faker, sensor: Sensor, expected: ExpectedOutcome, timestamp: Date): WireReading {
  return {
    reading_id: faker.string.uuid(),
    sensor_id: sensor.sensorId,
    sensor_type: sensor.sensorType,
    value: normalValue(faker, sensor),
    unit: sensor.unit,
    manufacturer: sensor.manufacturer,
    model: sensor.model,
    min: sensor.min,
    max: sensor.max,
    status: expected === 'INACTIVE_SENSOR' ? INACTIVE_STATUS : 'active',
    timestamp: timestamp.toISOString(),
  };
}

/** The bytes sent for `reading` with its fault applied (the faker draws stay in the same order). */
function withFault(faker: Faker, sensor: Sensor, reading: WireReading, expected: ExpectedOutcome): Uint8Array {
  switch (expected) {
    case 'BELOW_MIN':
      return encoder.encode(JSON.stringify({ ...reading, value: outOfRange(faker, sensor, 'below') }));
    case 'ABOVE_MAX':
      return encoder.encode(JSON.stringify({ ...reading, value: outOfRange(faker, sensor, 'above') }));
    case 'NULL_VALUE':
      return encoder.encode(JSON.stringify({ ...reading, value: null }));
    case 'JSON_PARSE_ERROR':
      return malformedJson(faker, reading);
    case 'SCHEMA_ERROR':
      return encoder.encode(JSON.stringify(schemaViolation(faker, reading)));
    case 'valid':
    case 'INACTIVE_SENSOR':
      return encoder.encode(JSON.stringify(reading));
  }
}

/**
 * Generates `count` readings: sensors report in turn (reading i comes from sensor i mod
 * `sensors`), one round every `intervalMs`, each reading with at most one fault drawn from
 * `rates`.
 */
export function simulate(options: SimulationOptions): Simulation {
  checkSimulationOptions(options);
  const { count, sensors, seed, startTime, intervalMs } = options;
  const rates = resolveFaultRates(options.rates);
  // Only sensors that report are part of the result: a caller counts them as distinct ids.
  const fleetSize = Math.min(sensors, count);
  const fleet = fleetSize > 0 ? createFleet(fleetSize, options.fleetSeed) : [];

  const faker = newFaker();
  faker.seed(seed);
  const startMs = startTime.getTime();
  const records: SimulatedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const sensor = fleet[i % fleet.length] as Sensor;
    const tick = Math.floor(i / fleet.length);
    const expected = pickOutcome(faker.number.float(), rates);
    const reading = healthyReading(faker, sensor, expected, new Date(startMs + tick * intervalMs));
    records.push({
      partitionKey: sensor.sensorId,
      data: withFault(faker, sensor, reading, expected),
      expected,
      readingId: reading.reading_id,
      sensorId: sensor.sensorId,
    });
  }
  return { fleet, rates, records, expected: countOutcomes(records) };
}
