/**
 * Producer Lambda: simulates the sensor fleet and writes its readings to the stream. Thin on
 * purpose: the fleet is src/domain/fleet.ts, the writing src/adapters/kinesis/stream-writer.ts.
 *
 * It answers with what it sent and what the pipeline must make of it (`expected`), so a load
 * test or an end-to-end check can compare the database against it exactly.
 */
import { randomInt } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import { readConfig, settings } from '#config/env.js';
import {
  countOutcomes,
  type ExpectedOutcome,
  type FaultRates,
  faultRatesSchema,
  type OutcomeCounts,
  type SimulatedRecord,
  simulate,
} from '#domain/fleet.js';
import { isIsoTimestampWithOffset } from '#domain/reading.js';
import { createTelemetry, MetricUnit } from '#observability/telemetry.js';

const config = readConfig(
  'producer',
  z.object({
    STREAM_NAME: settings.name,
    AWS_REGION: settings.region,
    KINESIS_ENDPOINT: settings.optionalUrl,
  }),
);

const { logger, metrics } = createTelemetry('producer');
const writer = new KinesisStreamWriter(
  createKinesisClient({ region: config.AWS_REGION, endpoint: config.KINESIS_ENDPOINT }),
  config.STREAM_NAME,
);

/** Upper bounds keep one invocation well inside the function's 60 s timeout and memory. */
export const MAX_COUNT = 100_000;
export const MAX_SENSORS = 10_000;
const MAX_SEED = 2 ** 32 - 1;
/** Failed records listed one by one in the result; the rest are only counted. */
const MAX_LISTED_FAILURES = 100;

const int = (min: number, max: number) =>
  z
    .number({ message: `must be an integer from ${min} to ${max}` })
    .int(`must be an integer from ${min} to ${max}`)
    .min(min, `must be an integer from ${min} to ${max}`)
    .max(max, `must be an integer from ${min} to ${max}`);

/**
 * Strict: a misspelt field (`cuont`) must fail the invocation rather than quietly run with
 * the default, since the caller would then check the pipeline against the wrong numbers.
 */
export const producerEventSchema = z.strictObject({
  count: int(0, MAX_COUNT).default(100),
  sensors: int(1, MAX_SENSORS).default(50),
  seed: int(0, MAX_SEED).optional(),
  rates: faultRatesSchema.optional(),
  startTime: z
    .string()
    .refine(isIsoTimestampWithOffset, {
      message: 'must be an ISO-8601 date-time with an offset, e.g. 2026-01-31T12:00:00Z',
    })
    .optional(),
  intervalMs: int(0, 3_600_000).default(2_000),
});
export type ProducerEvent = z.input<typeof producerEventSchema>;

export class InvalidProducerEventError extends Error {
  override readonly name = 'InvalidProducerEventError';
}

export interface FailedRecordSummary {
  readonly readingId: string;
  readonly sensorId: string;
  readonly expected: ExpectedOutcome;
  readonly errorCode: string;
}

export interface ProducerResult {
  readonly streamName: string;
  /** Records the stream accepted. */
  readonly sent: number;
  /** Records still rejected after the retries. */
  readonly failed: number;
  /** Distinct sensors that reported (at most `count`). */
  readonly sensors: number;
  /** The seed used, random when the event gave none: pass it back to reproduce the bytes. */
  readonly seed: number;
  readonly startTime: string;
  readonly intervalMs: number;
  readonly count: number;
  readonly rates: FaultRates;
  /** Outcomes the pipeline must produce for the records the stream accepted. */
  readonly expected: OutcomeCounts;
  /** Outcomes of the records that were generated but never accepted. */
  readonly notSent: OutcomeCounts;
  readonly failedRecords: readonly FailedRecordSummary[];
  readonly putRecordsCalls: number;
  readonly durationMs: number;
}

function parseEvent(event: unknown): z.output<typeof producerEventSchema> {
  const result = producerEventSchema.safeParse(event ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
  throw new InvalidProducerEventError(`Invalid producer event: ${problems.join('; ')}`);
}

/**
 * Without a startTime the run's last round is stamped now and earlier rounds before it, so a
 * manual invocation never writes readings from the future.
 */
function startTimeEndingNow(count: number, sensors: number, intervalMs: number): string {
  const rounds = Math.max(1, Math.ceil(count / Math.max(1, Math.min(sensors, count))));
  return new Date(Date.now() - (rounds - 1) * intervalMs).toISOString();
}

export const handler = async (event: unknown, context?: Pick<Context, 'awsRequestId'>): Promise<ProducerResult> => {
  // Invalid input throws: the invoker must see its mistake, not a run that sent nothing.
  const input = parseEvent(event);
  const seed = input.seed ?? randomInt(0, MAX_SEED);
  const startTime = input.startTime ?? startTimeEndingNow(input.count, input.sensors, input.intervalMs);
  logger.appendKeys({ correlation_id: `producer:${seed}:${startTime}`, request_id: context?.awsRequestId });
  try {
    const started = performance.now();
    const simulation = simulate({
      count: input.count,
      sensors: input.sensors,
      seed,
      startTime: new Date(startTime),
      intervalMs: input.intervalMs,
      rates: input.rates,
    });
    const outcome = await writer.write<SimulatedRecord>(simulation.records);
    const durationMs = Math.round(performance.now() - started);

    const unsent = new Set(outcome.failed.map((f) => f.record));
    const result: ProducerResult = {
      streamName: config.STREAM_NAME,
      sent: outcome.sent,
      failed: outcome.failed.length,
      sensors: simulation.fleet.length,
      seed,
      startTime,
      intervalMs: input.intervalMs,
      count: input.count,
      rates: simulation.rates,
      expected: countOutcomes(simulation.records.filter((r) => !unsent.has(r))),
      notSent: countOutcomes([...unsent]),
      failedRecords: outcome.failed.slice(0, MAX_LISTED_FAILURES).map((f) => ({
        readingId: f.record.readingId,
        sensorId: f.record.sensorId,
        expected: f.record.expected,
        errorCode: f.errorCode,
      })),
      putRecordsCalls: outcome.calls,
      durationMs,
    };

    metrics.addMetric('RecordsGenerated', MetricUnit.Count, simulation.records.length);
    metrics.addMetric('RecordsSent', MetricUnit.Count, result.sent);
    metrics.addMetric('RecordsFailed', MetricUnit.Count, result.failed);
    metrics.addMetric('PutRecordsCalls', MetricUnit.Count, outcome.calls);
    const { failedRecords, ...summary } = result;
    const log = result.failed > 0 ? logger.error.bind(logger) : logger.info.bind(logger);
    log('readings produced', { ...summary, firstFailures: failedRecords.slice(0, 5) });
    return result;
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
