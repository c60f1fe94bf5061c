/**
 * End to end through the embedded stack with the real handlers (the modules the deployment
 * bundles): a seeded producer run with known faults through kinesalite, the Kinesis event
 * source, the validator, fauxqs, the SQS event source and the drainer into PostgreSQL, then
 * the aggregator. Counts are compared exactly with what the producer says it injected.
 */

import path from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledEvent } from '#runtime/host/events.js';
import type { FunctionId } from '#topology.js';
import { localLambdaClient } from '../support/invoke-api-stack.js';
import {
  copyTopology,
  count,
  LOADED_MACHINE_BOUND_MS,
  PROJECT_ROOT,
  startTestStack,
  type TestStack,
  waitFor,
  waitUntilSettled,
  withFixtures,
} from '../support/runtime-stack.js';
import { expectAggregationsMatchReadings } from '../support/windows.js';

interface ProducerAnswer {
  sent: number;
  failed: number;
  expected: Record<string, number>;
}

const N = 3_000;
/** Every fault the producer can inject, so every error type is counted. */
const RATES = {
  INACTIVE_SENSOR: 0.2,
  BELOW_MIN: 0.05,
  ABOVE_MAX: 0.05,
  NULL_VALUE: 0.05,
  JSON_PARSE_ERROR: 0.03,
  SCHEMA_ERROR: 0.03,
};

async function landed(stack: TestStack): Promise<number> {
  return count(stack.db, 'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n');
}

describe('embedded pipeline, real handlers', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ topology: copyTopology(), label: 'rt_e2e', host: { enable: { schedules: false } } });
  });
  afterAll(async () => stack?.close());

  it('loads the topology entries themselves, not local copies', () => {
    for (const [id, runtime] of stack.host.functions) {
      expect(runtime.handlerPath).toBe(path.resolve(PROJECT_ROOT, stack.topology.functions[id as FunctionId].entry));
    }
  });

  it(
    'lands every produced reading exactly once with the injected error counts, and aggregates them',
    async () => {
      const lambda = localLambdaClient(stack.endpoints.lambdaEndpoint);
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: 'producer',
          Payload: new TextEncoder().encode(
            JSON.stringify({ count: N, sensors: 20, seed: 42, intervalMs: 1_000, rates: RATES }),
          ),
        }),
      );
      lambda.destroy();
      expect(out.FunctionError).toBeUndefined();
      const produced = JSON.parse(new TextDecoder().decode(out.Payload)) as ProducerAnswer;
      expect(produced.sent).toBe(N);
      expect(Object.values(produced.expected).reduce((a, b) => a + b, 0)).toBe(N);
      // The seeded run injects every fault type; otherwise this test would prove little.
      for (const fault of Object.keys(RATES)) expect(produced.expected[fault], fault).toBeGreaterThan(0);

      await waitFor(
        () => landed(stack),
        (n) => n >= N,
        LOADED_MACHINE_BOUND_MS,
        'every reading to land',
      );
      // Nothing left to read, acknowledge or drain: a duplicate would be here by now.
      await waitUntilSettled(stack);
      expect(await landed(stack)).toBe(N);

      expect(await count(stack.db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(produced.expected.valid);
      const byType = await stack.db.query<{ error_type: string; n: string }>(
        'SELECT error_type, count(*) AS n FROM sensor_errors GROUP BY 1',
      );
      const errors = Object.fromEntries(byType.rows.map((r) => [r.error_type, Number(r.n)]));
      for (const [outcome, expected] of Object.entries(produced.expected)) {
        if (outcome !== 'valid') expect(errors[outcome] ?? 0, outcome).toBe(expected);
      }
      expect(
        await count(
          stack.db,
          `SELECT count(DISTINCT (shard_id, sequence_number)) AS n FROM
           (SELECT shard_id, sequence_number FROM sensor_readings UNION ALL SELECT shard_id, sequence_number FROM sensor_errors) x`,
        ),
      ).toBe(N);

      // The aggregator, invoked with an EventBridge scheduled event, against windows recomputed here.
      const run = await stack.host.invoke('aggregator', scheduledEvent({ region: 'us-east-1', ruleName: 'test' }));
      expect(run.ok).toBe(true);
      await expectAggregationsMatchReadings(stack.db);
    },
    3 * LOADED_MACHINE_BOUND_MS,
  );
});

describe('retries exhausted, real drainer', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // The validator is replaced by a fixture that always throws, so every batch exhausts its
    // retries and only the on-failure notices carry the records; the real drainer must turn
    // those notices back into rows by reading the stream.
    const t = withFixtures(copyTopology(), { validator: 'test/fixtures/handlers/always-fails.ts' });
    const source = t.kinesisSources[0];
    if (source) Object.assign(source, { retryAttempts: 0, bisectBatchOnError: false });
    stack = await startTestStack({ topology: t, label: 'rt_notice', host: { enable: { schedules: false } } });
  });
  afterAll(async () => stack?.close());

  it(
    'sends each given-up batch to the failures queue, and the drainer lands every record once',
    async () => {
      const out = await stack.host.invoke('producer', { count: 200, sensors: 10, seed: 7 });
      expect(out.ok).toBe(true);
      const produced = (out.ok ? out.payload : {}) as ProducerAnswer;
      await waitFor(
        () => landed(stack),
        (n) => n >= produced.sent,
        LOADED_MACHINE_BOUND_MS,
        'drained rows',
      );
      await waitUntilSettled(stack);
      expect(await landed(stack)).toBe(produced.sent);
      expect(await count(stack.db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(produced.expected.valid);
      expect(stack.host.status().sources.kinesis?.noticesSent).toBeGreaterThan(0);
    },
    3 * LOADED_MACHINE_BOUND_MS,
  );
});
