/**
 * The validator's fast path for the common reading shape (`commonReading`, src/domain/reading.ts)
 * may only be stricter than the zod schema, never laxer: whenever it accepts an object, the
 * schema accepts it too and produces the same reading. It must also accept what the producer
 * sends (or it would save nothing). Checked on the producer's records, on both sides of every
 * field's boundary, and on records mutated at random (a fixed seed), each against the schema
 * itself.
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '#domain/fleet.js';
import { commonReading, readingSchema } from '#domain/reading.js';
import { seededRandom } from '#runtime/mqtt/device-simulator.js';
import { aReading } from '../support/factories.js';

/** Asserts the one-way agreement for `json`; answers whether the fast path accepted it. */
function agrees(json: Record<string, unknown>): boolean {
  const fast = commonReading(json);
  const schema = readingSchema.safeParse(json);
  if (fast === undefined) return false;
  expect(schema.success, `the fast path accepted what the schema refuses: ${JSON.stringify(json)}`).toBe(true);
  if (schema.success) expect(fast).toEqual(schema.data);
  return true;
}

const INFINITY = JSON.parse('1e999') as number;
const text = (n: number, c = 'a'): string => c.repeat(n);

/** Values around every boundary the schema draws, for any field. */
const PROBES: readonly unknown[] = [
  undefined,
  null,
  true,
  0,
  -0,
  1.5,
  -1e308,
  1e308,
  INFINITY,
  -INFINITY,
  Number.NaN,
  '',
  'a',
  '42',
  text(31),
  text(32),
  text(33),
  text(127),
  text(128),
  text(129),
  text(500),
  'nul\u0000inside',
  'lone \ud800 surrogate',
  'pair \ud83d\ude00 ok',
  '°C',
  [],
  {},
  'temperature',
  'humidity',
  'pressure',
  'Temperature',
  'active',
  '2026-11-26T12:00:30Z',
  '2026-11-26T12:00:30.123456789+14:00',
  '2026-11-26T12:00:30+14:60',
  '2026-02-29T00:00:00Z',
  '2024-02-29T00:00:00Z',
  '2026-11-26 12:00:30Z',
  '2026-11-26T12:00Z',
  '2026-11-26T12:00:30',
  '123e4567-e89b-12d3-a456-426614174000',
  '123E4567-E89B-12D3-A456-426614174000',
  '00000000-0000-0000-0000-000000000000',
  '{123e4567-e89b-12d3-a456-426614174000}',
  '123e4567-e89b-12d3-a456-42661417400',
  '123e4567e89b12d3a456426614174000',
];

/** Every field of the schema, so a field added to it is mutated here too. */
const FIELDS = Object.keys(readingSchema.shape) as (keyof typeof readingSchema.shape)[];

describe('the fast path for the common reading shape', () => {
  it("accepts every record of the producer's that the schema accepts, with the same reading", () => {
    const { records } = simulate({
      count: 3_000,
      sensors: 200,
      seed: 7,
      startTime: new Date('2026-11-26T12:00:00Z'),
      intervalMs: 2_000,
    });
    let schemaAccepted = 0;
    let fastAccepted = 0;
    for (const record of records) {
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(record.data).toString('utf8'));
      } catch {
        continue;
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) continue;
      const object = json as Record<string, unknown>;
      if (readingSchema.safeParse(object).success) schemaAccepted++;
      if (agrees(object)) fastAccepted++;
    }
    expect(schemaAccepted).toBeGreaterThan(2_000);
    expect(fastAccepted).toBe(schemaAccepted);
  });

  it('is never laxer than the schema on either side of any boundary of any field', () => {
    let accepted = 0;
    for (const field of FIELDS)
      for (const probe of PROBES)
        if (agrees(aReading({ [field]: probe, reading_id: aReading().reading_id }))) accepted++;
    // Each field's own valid probes are accepted: the fast path does its job at the boundaries too.
    expect(accepted).toBeGreaterThan(FIELDS.length);
    // Both sides of the length limits, decided as the schema decides them.
    expect(commonReading(aReading({ sensor_id: text(128) }))).toBeDefined();
    expect(commonReading(aReading({ sensor_id: text(129) }))).toBeUndefined();
    expect(commonReading(aReading({ unit: text(32) }))).toBeDefined();
    expect(commonReading(aReading({ unit: text(33) }))).toBeUndefined();
    expect(commonReading(aReading({ min: -1e308, max: 1e308 }))).toBeUndefined();
    expect(commonReading(aReading({ reading_id: undefined }))).toBeDefined();
    expect(commonReading(aReading({ reading_id: null }))).toBeDefined();
  });

  it('is never laxer than the schema on records mutated at random (fixed seed)', () => {
    const next = seededRandom(20261130);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const overrides: Record<string, unknown> = {};
      const changes = 1 + Math.floor(next() * 3);
      for (let c = 0; c < changes; c++) overrides[pick(FIELDS)] = pick(PROBES);
      if (agrees(aReading(overrides))) accepted++;
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
