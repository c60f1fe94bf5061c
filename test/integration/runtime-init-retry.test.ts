/**
 * A validator whose containers cannot start (the known failure of a loaded machine: tsx compiling
 * the handler in several containers at once outlasts the host's init timeout). The batch must be
 * retried whole after a back-off until a container starts, with nothing split, lost or given up
 * on; and a stop while containers keep failing must return instead of bisecting the batch down to
 * single records, one failed cold start each. Real parts: kinesalite, fauxqs, PostgreSQL and the
 * host's child-process containers running test/fixtures/handlers/slow-init.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  copyTopology,
  count,
  LOADED_MACHINE_BOUND_MS,
  putRecords,
  startTestStack,
  type TestStack,
  waitFor,
  withFixtures,
} from '../support/runtime-stack.js';

const SLOW_INIT = 'test/fixtures/handlers/slow-init.ts';
const RECORDS = 40;

function topology() {
  const t = withFixtures(copyTopology(), { validator: SLOW_INIT });
  t.stream.shardCount = 1;
  Object.assign(t.kinesisSources[0] ?? {}, {
    batchSize: 100,
    maxBatchingWindowSeconds: 1,
    parallelizationFactor: 1,
    bisectBatchOnError: true,
    retryAttempts: 2,
  });
  return t;
}

let stack: TestStack | undefined;
let dir: string | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(label: string, slowInits: number, initTimeoutMs: number): Promise<TestStack> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iot-slow-init-'));
  stack = await startTestStack({
    topology: topology(),
    label,
    host: { initTimeoutMs, enable: { sqs: false, schedules: false } },
    environment: { SLOW_INIT_FILE: path.join(dir, 'starts'), SLOW_INITS: String(slowInits) },
  });
  return stack;
}

const readings = Array.from({ length: RECORDS }, (_, i) => ({ key: 'one-sensor', data: { n: i } }));

describe('Kinesis event source when the function cannot start', () => {
  it(
    'retries the whole batch after an init timeout: one delivery of every record, no split, no notice',
    async () => {
      // Long enough for a real cold start of the fixture on a loaded machine; the first start hangs.
      const s = await start('init-retry', 1, 10_000);
      await putRecords(s, readings);
      await waitFor(
        () => count(s.db, `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'fixture_deliveries'`),
        (n) => n === 1,
        LOADED_MACHINE_BOUND_MS,
        'a container to start',
      );
      const rows = await waitFor(
        () => s.db.query<{ request_id: string; data: string }>('SELECT request_id, data FROM fixture_deliveries'),
        (r) => r.rows.length >= RECORDS,
        LOADED_MACHINE_BOUND_MS,
        'every record delivered',
      );
      const status = s.host.status();
      // The init timeout really happened (a test that never hit it would prove nothing).
      expect(status.functions.validator?.errors).toBeGreaterThanOrEqual(1);
      // Not split: the first delivery that reached the handler carried the whole batch.
      expect(new Set(rows.rows.map((r) => r.request_id)).size).toBe(1);
      expect(rows.rows.map((r) => (JSON.parse(r.data) as { n: number }).n).sort((a, b) => a - b)).toEqual(
        readings.map((r) => r.data.n),
      );
      expect(status.sources.kinesis?.noticesSent).toBe(0);
      expect(status.sources.kinesis?.recordsGivenUp).toBe(0);
    },
    LOADED_MACHINE_BOUND_MS * 2,
  );

  it(
    'stop() returns while every container start fails, after at most the invocation in flight',
    async () => {
      const s = await start('init-stop', 1_000_000, 500);
      await putRecords(s, readings);
      await waitFor(
        async () => s.host.status().functions.validator?.errors ?? 0,
        (n) => n >= 2,
        LOADED_MACHINE_BOUND_MS,
        'two failed starts',
      );
      const before = s.host.status().functions.validator?.invocations ?? 0;
      await s.host.stop();
      const after = s.host.status().functions.validator?.invocations ?? 0;
      // One lane: at most the invocation in flight when the stop came. Bisecting on would have
      // started up to 2 × 40 - 1 more, half a second of failed init each.
      expect(after - before).toBeLessThanOrEqual(1);
      expect(s.host.status().sources.kinesis?.acknowledged).toBe(0);
    },
    LOADED_MACHINE_BOUND_MS * 2,
  );
});
