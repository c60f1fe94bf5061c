/**
 * The producer's use case: simulate the sensor fleet (src/domain/fleet.ts), write its readings
 * to the stream, and answer with what was sent and what the pipeline must make of it
 * (`expected`), so a load test or an end-to-end check can compare the database against it
 * exactly.
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import {
  countOutcomes,
  type ExpectedOutcome,
  type FaultRates,
  faultRatesSchema,
  type OutcomeCounts,
  type SimulatedRecord,
  simulate,
} from '#domain/fleet.js';
import type { FailedRecord, StreamWriter } from '#domain/ports.js';
import { isIsoTimestampWithOffset } from '#domain/reading.js';

/** Upper bounds keep one invocation well inside the function's 60 s timeout and memory. */
const MAX_COUNT = 100_000;
const MAX_SENSORS = 10_000;
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
const producerEventSchema = z.strictObject({
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

export class InvalidProducerEventError extends Error {
  override readonly name = 'InvalidProducerEventError';
}

/** A validated producer event with its seed and start time decided: the run is reproducible. */
export interface ProductionPlan extends Omit<z.output<typeof producerEventSchema>, 'seed' | 'startTime'> {
  readonly seed: number;
  readonly startTime: string;
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

export interface ProduceDeps {
  readonly writer: StreamWriter;
  readonly streamName: string;
}

/**
 * Validates the event and decides what it left open. Invalid input throws: the invoker must see
 * its mistake, not a run that sent nothing.
 */
export function planProduction(event: unknown, now: () => number = Date.now): ProductionPlan {
  const result = producerEventSchema.safeParse(event ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`);
    throw new InvalidProducerEventError(`Invalid producer event: ${problems.join('; ')}`);
  }
  const input = result.data;
  return {
    ...input,
    seed: input.seed ?? randomInt(0, MAX_SEED),
    startTime: input.startTime ?? startTimeEndingNow(input, now()),
  };
}

/**
 * Without a startTime the run's last round is stamped now and earlier rounds before it, so a
 * manual invocation never writes readings from the future.
 */
function startTimeEndingNow(input: { count: number; sensors: number; intervalMs: number }, nowMs: number): string {
  const { count, sensors, intervalMs } = input;
  const rounds = Math.max(1, Math.ceil(count / Math.max(1, Math.min(sensors, count))));
  return new Date(nowMs - (rounds - 1) * intervalMs).toISOString();
}

export async function produceReadings(plan: ProductionPlan, deps: ProduceDeps): Promise<ProducerResult> {
  const started = performance.now();
  const simulation = simulate({
    count: plan.count,
    sensors: plan.sensors,
    seed: plan.seed,
    startTime: new Date(plan.startTime),
    intervalMs: plan.intervalMs,
    rates: plan.rates,
  });
  const outcome = await deps.writer.write<SimulatedRecord>(simulation.records);
  const unsent = new Set(outcome.failed.map((f) => f.record));
  return {
    streamName: deps.streamName,
    sent: outcome.sent,
    failed: outcome.failed.length,
    sensors: simulation.fleet.length,
    seed: plan.seed,
    startTime: plan.startTime,
    intervalMs: plan.intervalMs,
    count: plan.count,
    rates: simulation.rates,
    expected: countOutcomes(simulation.records.filter((r) => !unsent.has(r))),
    notSent: countOutcomes([...unsent]),
    failedRecords: outcome.failed.slice(0, MAX_LISTED_FAILURES).map(summarizeFailure),
    putRecordsCalls: outcome.calls,
    durationMs: Math.round(performance.now() - started),
  };
}

function summarizeFailure(f: FailedRecord<SimulatedRecord>): FailedRecordSummary {
  return {
    readingId: f.record.readingId,
    sensorId: f.record.sensorId,
    expected: f.record.expected,
    errorCode: f.errorCode,
  };
}
