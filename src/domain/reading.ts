/**
 * The reading contract (docs/DESIGN.md section 3): what a sensor sends, what a stored reading and a
 * stored rejection look like. Pure types and schema; no I/O.
 *
 * The schema is deliberately at least as strict as PostgreSQL: anything it accepts must be
 * storable, or one hostile record would fail the write of its whole batch. Hence the checks
 * on NUL characters and lone surrogates (PostgreSQL text rejects or mangles them), finite
 * numbers and a finite range width, and timestamps PostgreSQL parses the same way.
 */
import { z } from 'zod';
import type { StreamPosition } from './stream.js';

export const SENSOR_TYPES = ['temperature', 'humidity', 'pressure'] as const;
export type SensorType = (typeof SENSOR_TYPES)[number];

/** Error types in the order the rules are applied (the first that matches decides). */
export const VALIDATION_ERROR_TYPES = [
  'PAYLOAD_TOO_LARGE',
  'JSON_PARSE_ERROR',
  'IDENTITY_MISMATCH',
  'SCHEMA_ERROR',
  'INACTIVE_SENSOR',
  'NULL_VALUE',
  'BELOW_MIN',
  'ABOVE_MAX',
] as const;

/** All error types a row in sensor_errors can carry. PROCESSING_FAILURE: a batch given up on. */
export const ERROR_TYPES = [...VALIDATION_ERROR_TYPES, 'PROCESSING_FAILURE'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export const DEFAULT_PAYLOAD_CAP_BYTES = 64 * 1024;

/** A valid, normalized reading, ready to store. */
export interface ReadingRow {
  readonly readingId: string | null;
  readonly sensorId: string;
  readonly sensorType: SensorType;
  readonly value: number;
  readonly unit: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly min: number;
  readonly max: number;
  readonly status: string;
  /** The sender's ISO-8601 string, passed to PostgreSQL as sent (keeps sub-millisecond digits). */
  readonly eventTime: string;
  readonly normalizedValue: number;
  readonly highAlert: boolean;
  readonly lowAlert: boolean;
  readonly processingTime: Date;
  readonly position: StreamPosition;
}

/** A rejected record: the reason, and the exact bytes (up to the cap) to replay or inspect it. */
export interface ErrorRecord {
  readonly errorType: ErrorType;
  readonly errorMessage: string;
  /** The record's bytes, truncated to the payload cap. */
  readonly rawBytes: Uint8Array;
  /** The record's full size in bytes (larger than rawBytes.length when truncated). */
  readonly rawSize: number;
  readonly sensorId: string | null;
  readonly readingId: string | null;
  /** Partition key and arrival time are unknown for a PROCESSING_FAILURE naming a lost range. */
  readonly position: Omit<StreamPosition, 'partitionKey' | 'arrivalTime'> & {
    readonly partitionKey: string | null;
    readonly arrivalTime: Date | null;
  };
  readonly errorTime: Date;
}

/** True when PostgreSQL can store the string as text unchanged. */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

const storableText = z.string().refine(isStorableText, { message: 'contains a NUL character or invalid Unicode' });

const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * ISO-8601 date-time with seconds and an explicit offset (`Z` or `±HH:MM`), every field in
 * range. Checked field by field because `Date.parse` rolls 2026-02-30 over into March.
 */
export function isIsoTimestampWithOffset(s: string): boolean {
  const m = ISO_WITH_OFFSET.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = m[7] === undefined ? 0 : Number(m[7]);
  const offsetMinutes = m[8] === undefined ? 0 : Number(m[8]);
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 14 &&
    offsetMinutes <= 59
  );
}

/**
 * The shape of a reading. `value` must be present but may be null (that is NULL_VALUE, a
 * business rule, not a schema error). Unknown extra fields are ignored.
 */
export const readingSchema = z
  .object({
    reading_id: z.guid({ message: 'must be a UUID' }).nullish(),
    sensor_id: storableText.min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
    sensor_type: z.enum(SENSOR_TYPES),
    value: z.number().nullable(),
    // Bounded like the table (sensor_readings_text_length_check): these columns are indexed.
    unit: storableText.max(32, 'must be at most 32 characters'),
    manufacturer: storableText.max(128, 'must be at most 128 characters'),
    model: storableText.max(128, 'must be at most 128 characters'),
    min: z.number(),
    max: z.number(),
    status: storableText,
    timestamp: z.string().refine(isIsoTimestampWithOffset, {
      message: 'must be an ISO-8601 date-time with seconds and an offset, e.g. 2026-01-31T12:00:00Z',
    }),
  })
  .superRefine(({ min, max }, ctx) => {
    if (!(min < max)) {
      ctx.addIssue({ code: 'custom', message: 'min must be less than max', path: ['min'] });
    } else if (!Number.isFinite(max - min)) {
      // Else normalization would divide by Infinity and every value would look like 0.
      ctx.addIssue({ code: 'custom', message: 'max - min must be a finite number', path: ['max'] });
    }
  });

export type SensorReading = z.output<typeof readingSchema>;

/** zod's own `guid` pattern (zod/v4/core/regexes.js), so both paths accept the same ids. */
const GUID = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

function isText(v: unknown, minLength: number, maxLength: number): v is string {
  return typeof v === 'string' && v.length >= minLength && v.length <= maxLength && isStorableText(v);
}

/** What z.number() accepts: a number that is neither NaN nor infinite (JSON's 1e999 parses to Infinity). */
function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isSensorType(v: unknown): v is SensorType {
  return v === 'temperature' || v === 'humidity' || v === 'pressure';
}

/**
 * The schema's common case without zod: when every field of `json` has a shape
 * {@link readingSchema} accepts, the reading it would produce; otherwise `undefined`, and the
 * caller asks the schema, which names the issue. It may only be stricter than the schema, never
 * laxer (test/unit/reading-fast-path.test.ts checks the two on the producer's records, on every
 * boundary of every field and on mutated records).
 *
 * Why: the validator classifies every record on its critical path, and zod's general machinery
 * was the largest piece of that (about 2 ms of a 500-record batch's 5.6 ms here), for records
 * that are almost all well-formed.
 */
export function commonReading(json: Record<string, unknown>): SensorReading | undefined {
  const { reading_id, sensor_id, sensor_type, value, unit, manufacturer, model, min, max, status, timestamp } = json;
  if (!(reading_id === undefined || reading_id === null || (typeof reading_id === 'string' && GUID.test(reading_id))))
    return undefined;
  if (!isText(sensor_id, 1, 128) || !isSensorType(sensor_type) || !(value === null || isFiniteNumber(value)))
    return undefined;
  if (!isText(unit, 0, 32) || !isText(manufacturer, 0, 128) || !isText(model, 0, 128) || !isText(status, 0, Infinity))
    return undefined;
  if (!isFiniteNumber(min) || !isFiniteNumber(max) || !(min < max) || !Number.isFinite(max - min)) return undefined;
  if (typeof timestamp !== 'string' || !isIsoTimestampWithOffset(timestamp)) return undefined;
  // One object shape whether reading_id was sent or not (a conditional spread made V8 build each
  // result in dictionary mode: slower than zod itself). An absent id reads as undefined either way.
  return {
    reading_id,
    sensor_id,
    sensor_type,
    value,
    unit,
    manufacturer,
    model,
    min,
    max,
    status,
    timestamp,
  };
}
