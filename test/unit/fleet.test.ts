import { describe, expect, it } from 'vitest';
import {
  createFleet,
  DEFAULT_FAULT_RATES,
  EXPECTED_OUTCOMES,
  resolveFaultRates,
  type SimulationOptions,
  simulate,
} from '#domain/fleet.js';
import { DEFAULT_PAYLOAD_CAP_BYTES, readingSchema } from '#domain/reading.js';
import type { StreamPosition } from '#domain/stream.js';
import { classifyRecord } from '#domain/validation.js';

const START = new Date('2026-03-01T10:00:00Z');
const base: SimulationOptions = { count: 1_000, sensors: 50, seed: 42, startTime: START, intervalMs: 2_000 };

const position: StreamPosition = {
  streamName: 'iot_sensor_data',
  shardId: 'shardId-000000000000',
  sequenceNumber: '1',
  partitionKey: 'p',
  arrivalTime: START,
};

const decoder = new TextDecoder();

function classify(data: Uint8Array): string {
  const c = classifyRecord(data, position, { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now: START });
  return c.kind === 'reading' ? 'valid' : c.error.errorType;
}

const everyFault = {
  INACTIVE_SENSOR: 0.15,
  BELOW_MIN: 0.1,
  ABOVE_MAX: 0.1,
  NULL_VALUE: 0.1,
  JSON_PARSE_ERROR: 0.1,
  SCHEMA_ERROR: 0.15,
};

describe('simulate: determinism', () => {
  it('gives byte-identical records for the same seed and start time', () => {
    const a = simulate(base).records;
    const b = simulate(base).records;
    expect(b.map((r) => Buffer.from(r.data).toString('base64'))).toEqual(
      a.map((r) => Buffer.from(r.data).toString('base64')),
    );
    expect(b.map((r) => r.partitionKey)).toEqual(a.map((r) => r.partitionKey));
  });

  it('gives other readings for another seed, and moves only the timestamps for another start time', () => {
    const a = simulate(base).records;
    const otherSeed = simulate({ ...base, seed: 43 }).records;
    expect(otherSeed.map((r) => r.readingId)).not.toEqual(a.map((r) => r.readingId));

    const later = simulate({ ...base, startTime: new Date(START.getTime() + 3_600_000) }).records;
    expect(later.map((r) => r.readingId)).toEqual(a.map((r) => r.readingId));
    expect(decoder.decode(later[0]?.data)).toContain('"timestamp":"2026-03-01T11:00:00.000Z"');
  });

  it('does not depend on the global faker instance', async () => {
    const before = simulate(base).records.map((r) => r.readingId);
    const { faker } = await import('@faker-js/faker');
    faker.seed(999);
    faker.string.uuid();
    expect(simulate(base).records.map((r) => r.readingId)).toEqual(before);
  });
});

describe('fleet: stable sensors', () => {
  it('uses only `sensors` distinct ids, each always with the same type, unit, range and device', () => {
    const { records } = simulate({
      ...base,
      count: 5_000,
      rates: { INACTIVE_SENSOR: 0, BELOW_MIN: 0, ABOVE_MAX: 0, NULL_VALUE: 0 },
    });
    const bySensor = new Map<string, Set<string>>();
    for (const r of records) {
      const reading = readingSchema.parse(JSON.parse(decoder.decode(r.data)));
      expect(r.partitionKey).toBe(reading.sensor_id);
      const identity = JSON.stringify([
        reading.sensor_type,
        reading.unit,
        reading.min,
        reading.max,
        reading.manufacturer,
        reading.model,
      ]);
      bySensor.set(reading.sensor_id, (bySensor.get(reading.sensor_id) ?? new Set()).add(identity));
    }
    expect(bySensor.size).toBe(50);
    for (const identities of bySensor.values()) expect(identities.size).toBe(1);
  });

  it('keeps a sensor the same device whatever the seed or fleet size (ids encode index and type)', () => {
    const small = createFleet(10);
    const large = createFleet(100);
    expect(large.slice(0, 10)).toEqual(small);
    expect(small.slice(0, 4).map((s) => s.sensorId)).toEqual(['temp-0000', 'hum-0001', 'pres-0002', 'temp-0003']);
    const fromSeeds = [1, 2].map((seed) => simulate({ ...base, seed, count: 10, sensors: 10 }).fleet);
    expect(fromSeeds[0]).toEqual(fromSeeds[1]);
  });

  it('gives each type a realistic unit and range, with the baseline inside it', () => {
    for (const s of createFleet(300)) {
      const expected = { temperature: '°C', humidity: '%', pressure: 'hPa' }[s.sensorType];
      expect(s.unit).toBe(expected);
      expect(s.min).toBeLessThan(s.max);
      expect(s.baseline).toBeGreaterThan(s.min);
      expect(s.baseline).toBeLessThan(s.max);
      if (s.sensorType === 'humidity') expect([s.min, s.max]).toEqual([0, 100]);
      if (s.sensorType === 'pressure') expect(s.min).toBeGreaterThanOrEqual(200);
    }
  });

  it('lets 1-minute windows aggregate: each sensor reports several times per window', () => {
    // 600 readings from 50 sensors every 10 s: 12 rounds, two minutes of event time.
    const { records } = simulate({
      ...base,
      count: 600,
      intervalMs: 10_000,
      rates: { INACTIVE_SENSOR: 0, BELOW_MIN: 0, ABOVE_MAX: 0, NULL_VALUE: 0 },
    });
    const windows = new Map<string, number>();
    for (const r of records) {
      const { sensor_id, timestamp } = JSON.parse(decoder.decode(r.data)) as { sensor_id: string; timestamp: string };
      const key = `${sensor_id}@${timestamp.slice(0, 16)}`;
      windows.set(key, (windows.get(key) ?? 0) + 1);
    }
    expect(windows.size).toBe(100);
    expect([...windows.values()].every((n) => n === 6)).toBe(true);
  });
});

describe('simulate: expected outcomes', () => {
  it('labels every record with exactly the error type the validator gives it (all fault kinds)', () => {
    const { records, expected } = simulate({ ...base, count: 20_000, rates: everyFault });
    const mismatches = records
      .map((r) => ({ expected: r.expected, actual: classify(r.data), text: decoder.decode(r.data) }))
      .filter((m) => m.expected !== m.actual);
    expect(mismatches.slice(0, 5)).toEqual([]);
    for (const outcome of EXPECTED_OUTCOMES) expect(expected[outcome]).toBeGreaterThan(0);
    expect(Object.values(expected).reduce((a, b) => a + b, 0)).toBe(20_000);
  });

  it('labels records correctly with the default rates too, across many seeds', () => {
    for (let seed = 0; seed < 20; seed++) {
      for (const r of simulate({ ...base, seed, count: 500 }).records) expect(classify(r.data)).toBe(r.expected);
    }
  });

  it('respects the configured rates over a large sample', () => {
    const n = 50_000;
    const { expected } = simulate({ ...base, count: n, rates: everyFault });
    // 4 standard deviations of a binomial proportion at n = 50,000 is under 0.007.
    for (const [fault, rate] of Object.entries(everyFault)) {
      expect(Math.abs(expected[fault as keyof typeof everyFault] / n - rate)).toBeLessThan(0.007);
    }
    expect(Math.abs(expected.valid / n - 0.3)).toBeLessThan(0.007);
  });

  it("keeps the original's 75% active / 25% maintenance by default, and injects no malformed records", () => {
    const n = 50_000;
    const { records, expected } = simulate({ ...base, count: n });
    const statuses = { active: 0, maintenance: 0 };
    for (const r of records) {
      const { status } = JSON.parse(decoder.decode(r.data)) as { status: 'active' | 'maintenance' };
      statuses[status]++;
    }
    expect(Math.abs(statuses.maintenance / n - 0.25)).toBeLessThan(0.01);
    expect(statuses.active + statuses.maintenance).toBe(n);
    expect(expected.JSON_PARSE_ERROR).toBe(0);
    expect(expected.SCHEMA_ERROR).toBe(0);
    expect(expected.BELOW_MIN).toBeGreaterThan(0);
    expect(expected.ABOVE_MAX).toBeGreaterThan(0);
    expect(expected.NULL_VALUE).toBeGreaterThan(0);
  });

  it('gives every reading a unique reading_id, the sensor as partition key and event time from the start time', () => {
    const { records } = simulate({ ...base, count: 120, sensors: 50 });
    expect(new Set(records.map((r) => r.readingId)).size).toBe(120);
    const third = JSON.parse(decoder.decode(records[100]?.data)) as { timestamp: string; reading_id: string };
    expect(third.timestamp).toBe('2026-03-01T10:00:04.000Z'); // round 2 of 2 s
    expect(third.reading_id).toBe(records[100]?.readingId);
  });

  it('uses min(count, sensors) sensors and handles count 0', () => {
    expect(simulate({ ...base, count: 7 }).fleet).toHaveLength(7);
    const none = simulate({ ...base, count: 0 });
    expect(none.records).toEqual([]);
    expect(none.fleet).toEqual([]);
    expect(Object.values(none.expected).every((n) => n === 0)).toBe(true);
  });
});

describe('fault rates', () => {
  it('merges overrides into the defaults', () => {
    expect(resolveFaultRates({ SCHEMA_ERROR: 0.1 })).toEqual({ ...DEFAULT_FAULT_RATES, SCHEMA_ERROR: 0.1 });
    expect(resolveFaultRates()).toEqual(DEFAULT_FAULT_RATES);
  });

  it('rejects rates outside [0, 1], naming each', () => {
    expect(() => resolveFaultRates({ BELOW_MIN: -0.1, ABOVE_MAX: 2 })).toThrow(
      /BELOW_MIN: must be between 0 and 1; ABOVE_MAX: must be between 0 and 1/,
    );
  });

  it('rejects rates that add up to more than 1, defaults included', () => {
    expect(() => resolveFaultRates({ NULL_VALUE: 0.7 })).toThrow(/add up to 1\.05;/);
    expect(
      resolveFaultRates({ INACTIVE_SENSOR: 0.7, BELOW_MIN: 0.1, ABOVE_MAX: 0.1, NULL_VALUE: 0.1 }).INACTIVE_SENSOR,
    ).toBe(0.7);
  });

  it('rejects unknown fault names instead of ignoring them', () => {
    expect(() => resolveFaultRates({ BELOW_MINIMUM: 0.1 } as never)).toThrow(/BELOW_MINIMUM/);
  });

  it('makes simulate refuse bad rates before generating anything', () => {
    expect(() => simulate({ ...base, rates: { SCHEMA_ERROR: 1.5 } })).toThrow(RangeError);
    expect(() => simulate({ ...base, sensors: 0 })).toThrow(/sensors must be a positive integer/);
  });
});
