/**
 * The query API's contract (issue 10): request parameters and replies as zod schemas. The HTTP
 * adapter validates requests with these schemas and generates the OpenAPI document from them, and
 * the use cases return the inferred types, so the document, the validation and the code cannot
 * drift apart.
 */
import { z } from 'zod';

export const SENSOR_TYPES = ['temperature', 'humidity', 'pressure'] as const;
export const SENSOR_STATUSES = ['ok', 'stale', 'offline'] as const;
export type SensorStatus = (typeof SENSOR_STATUSES)[number];
export const ERROR_TYPES = [
  'PAYLOAD_TOO_LARGE',
  'JSON_PARSE_ERROR',
  'SCHEMA_ERROR',
  'INACTIVE_SENSOR',
  'NULL_VALUE',
  'BELOW_MIN',
  'ABOVE_MAX',
  'PROCESSING_FAILURE',
] as const;

/** Window steps: every one divides a UTC day, so buckets align to UTC minutes, hours and days. */
export const STEPS = { '1m': 1, '5m': 5, '15m': 15, '1h': 60, '1d': 1440 } as const;
export type Step = keyof typeof STEPS;
export const STEP_NAMES = Object.keys(STEPS) as Step[];
export const stepMs = (step: Step): number => STEPS[step] * 60_000;

/** Caps that keep every request's database work bounded (README, "Query API"). */
export const LIMITS = {
  /** Sensors per fleet page: the whole simulated fleet (and the 10,000) fits one reply. */
  fleetPage: { default: 1_000, max: 10_000 },
  readingsPage: { default: 100, max: 1_000 },
  errorRowsPage: { default: 100, max: 1_000 },
  dqRunsPage: { default: 20, max: 200 },
  /** Buckets per windows reply; a wider range is cut and continued by nextCursor. */
  windowBuckets: 1_500,
  /** 1-minute windows rolled up per windows reply (bounds the 1d step: 69 days per page). */
  windowMinutes: 100_000,
  /** Buckets per errors reply; a wider range is refused with 400 naming the limit. */
  errorBuckets: 1_500,
  /** Widest errors range: counting by type scans the range's rejections. */
  errorRangeDays: 31,
  /** Rows per /api/changes section; more sets `truncated` and the client reloads. */
  changes: 10_000,
} as const;

/** Earliest and latest instants the API accepts: anything else is a typo or an attack. */
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2100, 0, 1);

const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with an offset, e.g. 2026-11-26T12:00:00Z' })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= EARLIEST && t < LATEST;
  }, 'must be between 2000-01-01 and 2100-01-01');

const pageLimit = (limits: { default: number; max: number }) =>
  z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(limits.max, `must be at most ${limits.max}`)
    .default(limits.default);

/** Opaque continuation token: base64url of a small JSON array. */
const cursorParam = z
  .string()
  .max(512, 'must be a cursor returned by a previous reply')
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by a previous reply');

/** Free text sent on to PostgreSQL, which cannot hold a NUL character in text. */
const text = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must have at most ${max} characters`)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export const sensorIdParam = z.object({ id: text(128) });

export const fleetQuery = z.object({
  type: z.enum(SENSOR_TYPES).optional(),
  status: z.enum(SENSOR_STATUSES).optional(),
  alert: z.enum(['open', 'none']).optional().describe('open: only sensors with an open alert; none: only without'),
  q: text(128).optional().describe('substring of the sensor id'),
  sort: z.enum(['id', 'lastSeen']).default('id'),
  order: z.enum(['asc', 'desc']).default('asc'),
  limit: pageLimit(LIMITS.fleetPage),
  cursor: cursorParam.optional(),
});
export type FleetQuery = z.output<typeof fleetQuery>;

export const readingsQuery = z.object({
  from: instant.optional().describe('inclusive; unbounded when absent'),
  to: instant.optional().describe('exclusive; now when absent'),
  limit: pageLimit(LIMITS.readingsPage),
  cursor: cursorParam.optional(),
});
export type ReadingsQuery = z.output<typeof readingsQuery>;

export const windowsQuery = z.object({
  from: instant.optional().describe('inclusive, floored to the step; 24 hours before `to` when absent'),
  to: instant.optional().describe('exclusive; now when absent'),
  step: z.enum(STEP_NAMES as [Step, ...Step[]]).default('1m'),
  cursor: cursorParam.optional(),
});
export type WindowsQuery = z.output<typeof windowsQuery>;

export const errorsQuery = z.object({
  type: z.enum(ERROR_TYPES).optional(),
  sensor: text(128).optional(),
  from: instant.optional().describe('inclusive, floored to the step; 24 hours before `to` when absent'),
  to: instant.optional().describe('exclusive; now when absent'),
  step: z.enum(STEP_NAMES as [Step, ...Step[]]).default('1h'),
  limit: pageLimit(LIMITS.errorRowsPage),
  cursor: cursorParam.optional(),
});
export type ErrorsQuery = z.output<typeof errorsQuery>;

export const dqRunsQuery = z.object({
  limit: pageLimit(LIMITS.dqRunsPage),
  cursor: cursorParam.optional(),
});
export type DqRunsQuery = z.output<typeof dqRunsQuery>;

export const changesQuery = z.object({
  since: z
    .string()
    .regex(/^[0-9]{1,19}$/, 'must be a cursor returned by a previous reply')
    .optional()
    .describe('the cursor of the previous reply; absent: only a cursor to start from'),
});

export const createTokenBody = z.object({
  name: text(128),
  scope: z.enum(['read', 'admin']).default('read'),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});
export const tokenIdParam = z.object({ id: z.uuid('must be a token id (UUID)') });

// ---- Replies -------------------------------------------------------------------------------

const iso = z.string().describe('ISO-8601 UTC date-time');

export const alertSummary = z.object({
  alertId: z.number().int(),
  sensorId: z.string(),
  kind: z.enum(['high', 'low']),
  openedAt: iso,
  closedAt: iso.nullable(),
  peakValue: z.number(),
  readingCount: z.number().int(),
});
export type AlertSummary = z.output<typeof alertSummary>;

export const fleetSensor = z.object({
  sensorId: z.string(),
  sensorType: z.string(),
  unit: z.string(),
  manufacturer: z.string(),
  model: z.string(),
  status: z.enum(SENSOR_STATUSES).describe('from the age of the newest reading: see thresholds'),
  lastSeen: iso.describe('event time of the newest valid reading'),
  latest: z.object({
    value: z.number(),
    normalizedValue: z.number(),
    highAlert: z.boolean(),
    lowAlert: z.boolean(),
    min: z.number(),
    max: z.number(),
    deviceStatus: z.string(),
    eventTime: iso,
    processingTime: iso,
  }),
  rejectedLastHour: z.number().int(),
  rejectionRateLastHour: z.number().nullable().describe('rejected ÷ (rejected + valid) over the last hour'),
  openAlerts: z.array(alertSummary),
});
export type FleetSensor = z.output<typeof fleetSensor>;

export const thresholds = z.object({
  staleAfterSeconds: z.number().int(),
  offlineAfterSeconds: z.number().int(),
});
export type StatusThresholds = z.output<typeof thresholds>;

export const fleetReply = z.object({
  generatedAt: iso,
  thresholds,
  sensors: z.array(fleetSensor),
  truncated: z.boolean(),
  nextCursor: z.string().nullable(),
});
export type FleetReply = z.output<typeof fleetReply>;

export const sensorReply = z.object({
  generatedAt: iso,
  thresholds,
  sensor: fleetSensor,
  recentAlerts: z.array(alertSummary),
});
export type SensorReply = z.output<typeof sensorReply>;

export const readingItem = z.object({
  eventTime: iso,
  value: z.number(),
  normalizedValue: z.number(),
  highAlert: z.boolean(),
  lowAlert: z.boolean(),
  unit: z.string(),
  readingId: z.string().nullable(),
  processingTime: iso,
  position: z.object({ streamName: z.string(), shardId: z.string(), sequenceNumber: z.string() }),
});
export type ReadingItem = z.output<typeof readingItem>;

export const readingsReply = z.object({
  sensorId: z.string(),
  readings: z.array(readingItem).describe('newest first'),
  truncated: z.boolean(),
  nextCursor: z.string().nullable(),
});
export type ReadingsReply = z.output<typeof readingsReply>;

export const windowBucket = z.object({
  start: iso,
  end: iso,
  count: z.number().int().describe('0 for an empty bucket, whose statistics are null'),
  avg: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  stddev: z.number().nullable().describe('pooled sample standard deviation; null below 2 readings'),
  highAlertCount: z.number().int(),
  lowAlertCount: z.number().int(),
  partial: z.boolean().describe('the bucket is still open (it holds the current minute, from raw readings)'),
});
export type WindowBucket = z.output<typeof windowBucket>;

export const windowsReply = z.object({
  sensorId: z.string(),
  step: z.enum(STEP_NAMES as [Step, ...Step[]]),
  from: iso.describe('the first bucket start (from floored to the step)'),
  to: iso.describe('the end of the last bucket of this reply'),
  buckets: z.array(windowBucket).describe('every bucket of the range, oldest first; empty ones explicit'),
  lastBefore: z.object({ eventTime: iso, value: z.number() }).nullable().describe('the newest reading before `from`'),
  alerts: z.array(alertSummary).describe('alerts open at any time in the range'),
  truncated: z.boolean(),
  nextCursor: z.string().nullable(),
});
export type WindowsReply = z.output<typeof windowsReply>;

export const errorRow = z.object({
  errorType: z.string(),
  errorMessage: z.string(),
  sensorId: z.string().nullable(),
  rawText: z.string().nullable(),
  rawBase64: z.string().nullable().describe('the exact bytes received (up to the payload cap)'),
  rawSize: z.number().int(),
  errorTime: iso,
  position: z.object({ streamName: z.string(), shardId: z.string(), sequenceNumber: z.string() }),
});
export type ErrorRow = z.output<typeof errorRow>;

export const errorsReply = z.object({
  step: z.enum(STEP_NAMES as [Step, ...Step[]]),
  from: iso,
  to: iso,
  buckets: z.array(
    z.object({ start: iso, end: iso, total: z.number().int(), counts: z.record(z.string(), z.number().int()) }),
  ),
  rows: z.array(errorRow).describe('newest first'),
  truncated: z.boolean(),
  nextCursor: z.string().nullable(),
});
export type ErrorsReply = z.output<typeof errorsReply>;

export const dqRunSummary = z.object({
  runId: z.string(),
  startedAt: iso,
  checkedAt: iso,
  passed: z.number().int(),
  warned: z.number().int(),
  failed: z.number().int(),
  errored: z.number().int(),
  outcome: z.enum(['pass', 'warn', 'fail', 'error']).describe('the worst outcome of the run'),
});
export type DqRunSummary = z.output<typeof dqRunSummary>;

export const dqRunsReply = z.object({
  runs: z.array(dqRunSummary),
  truncated: z.boolean(),
  nextCursor: z.string().nullable(),
});
export type DqRunsReply = z.output<typeof dqRunsReply>;

export const dqCheck = z.object({
  file: z.string(),
  line: z.number().int(),
  name: z.string(),
  table: z.string().nullable(),
  metric: z.string(),
  value: z.number().nullable(),
  outcome: z.enum(['pass', 'warn', 'fail', 'error']),
  thresholds: z.string(),
  error: z.string().nullable(),
});
export const dqLatestReply = z.object({
  run: dqRunSummary.extend({ checks: z.array(dqCheck) }).nullable(),
});
export type DqLatestReply = z.output<typeof dqLatestReply>;

export const healthReply = z.object({
  generatedAt: iso,
  database: z.object({ ok: z.boolean() }),
  aggregator: z.object({
    lastRunAt: iso.nullable(),
    late: z.boolean(),
    pendingWindows: z.number().int(),
    oldestPendingWindow: iso.nullable(),
  }),
  dq: z.object({ lastRunAt: iso.nullable(), late: z.boolean(), outcome: z.string().nullable() }),
  stream: z
    .object({
      iteratorAgeMs: z.number().nullable().describe('age of the oldest record the validator has not processed'),
      late: z.boolean(),
    })
    .nullable()
    .describe('null where this target does not report it'),
  shards: z
    .array(
      z.object({
        shardId: z.string(),
        lagMs: z.number().nullable().describe('null where the target reports no per-shard lag (AWS)'),
        pending: z.number().int().nullable().describe('records after the checkpoint, counted up to 10,000'),
        late: z.boolean(),
      }),
    )
    .nullable()
    .describe('null where this target does not report them'),
  queues: z
    .array(
      z.object({
        name: z.string(),
        visible: z.number().int(),
        inFlight: z.number().int(),
        dlq: z.boolean(),
        late: z.boolean().describe('a dead-letter queue holding anything, or a backlog over the limit'),
      }),
    )
    .nullable(),
});
export type HealthReply = z.output<typeof healthReply>;

export const changesReply = z.object({
  cursor: z.string().describe('pass as `since` next time'),
  sensors: z.array(
    z.object({ sensorId: z.string(), lastSeen: iso, value: z.number(), highAlert: z.boolean(), lowAlert: z.boolean() }),
  ),
  alerts: z.array(alertSummary),
  dqRuns: z.array(dqRunSummary),
  truncated: z.boolean().describe('more changed than one reply carries: reload everything'),
});
export type ChangesReply = z.output<typeof changesReply>;

export const tokenInfo = z.object({
  tokenId: z.string(),
  name: z.string(),
  prefix: z.string(),
  scope: z.enum(['read', 'admin']),
  createdAt: iso,
  expiresAt: iso.nullable(),
  revokedAt: iso.nullable(),
  lastUsedAt: iso.nullable(),
});
export type TokenInfo = z.output<typeof tokenInfo>;

export const problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ in: z.string(), name: z.string(), message: z.string() })).optional(),
});

// ---- Rules ---------------------------------------------------------------------------------

/** ok up to staleAfter, stale up to offlineAfter, offline beyond (README, "Sensor status"). */
export function sensorStatus(lastSeenMs: number, nowMs: number, t: StatusThresholds): SensorStatus {
  const age = nowMs - lastSeenMs;
  if (age <= t.staleAfterSeconds * 1000) return 'ok';
  if (age <= t.offlineAfterSeconds * 1000) return 'stale';
  return 'offline';
}

/** Floors an instant to its UTC-aligned bucket start (every step divides a day). */
export function bucketStart(ms: number, step: Step): number {
  const size = stepMs(step);
  return Math.floor(ms / size) * size;
}

export class BadCursorError extends Error {
  override readonly name = 'BadCursorError';
}

/** Cursors are opaque to clients; inside, a tagged array so one endpoint's cursor fails on another. */
export function encodeCursor(kind: string, values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...values]), 'utf8').toString('base64url');
}

export function decodeCursor(
  kind: string,
  cursor: string,
  shape: readonly ('string' | 'number')[],
): (string | number)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new BadCursorError('cursor is not one this API returned');
  }
  if (!Array.isArray(parsed) || parsed[0] !== kind || parsed.length !== shape.length + 1) {
    throw new BadCursorError(`cursor is not one this endpoint returned`);
  }
  const values = parsed.slice(1) as unknown[];
  values.forEach((v, i) => {
    if (typeof v !== shape[i] || (typeof v === 'number' && !Number.isFinite(v))) {
      throw new BadCursorError('cursor is not one this API returned');
    }
  });
  return values as (string | number)[];
}

/**
 * A request the API refuses, with its RFC 9457 status and title; the HTTP adapter renders it as
 * `application/problem+json`.
 */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 503,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export const badRequest = (detail: string) => new ApiProblem(400, 'Bad request', detail);
export const notFound = (detail: string) => new ApiProblem(404, 'Not found', detail);
