/**
 * The embedded SQS event source against fauxqs and a fixture handler: partial batch responses
 * delete only the successful messages, a failed message comes back after the visibility
 * timeout with a higher ApproximateReceiveCount, and after maxReceiveCount receives the queue's
 * redrive policy moves it to the DLQ, where the host stops seeing it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '#runtime/stack.js';
import { VISIBILITY_PER_FUNCTION_TIMEOUT } from '#topology.js';
import {
  copyTopology,
  count,
  PROJECT_ROOT,
  startTestStack,
  type TestStack,
  waitFor,
  withFixtures,
} from '../support/runtime-stack.js';

/** The fixture's timeout; the queue's visibility timeout is the smallest the topology accepts. */
const DRAINER_TIMEOUT_SECONDS = 2;
const VISIBILITY_SECONDS = VISIBILITY_PER_FUNCTION_TIMEOUT * DRAINER_TIMEOUT_SECONDS;

let stack: TestStack;
beforeAll(async () => {
  const t = withFixtures(copyTopology(), { dlqDrainer: 'test/fixtures/handlers/sqs-recorder.ts' });
  // Neither Lambda nor the host extends a message's visibility while its batch runs, so the
  // visibility timeout must outlast the batch: six function timeouts, as the topology demands
  // (a 1 s visibility timeout here once raced a busy machine and the successes came back).
  t.functions.dlqDrainer.timeoutSeconds = DRAINER_TIMEOUT_SECONDS;
  t.queues.errors.visibilityTimeoutSeconds = VISIBILITY_SECONDS;
  t.queues.errors.maxReceiveCount = 2;
  stack = await startTestStack({
    topology: t,
    label: 'rt_sqs',
    host: { enable: { kinesis: false, schedules: false } },
  });
  // A cold start (tsx compiling the handler) is not bounded by the function timeout (the init
  // phase has its own limit): start the container before the test, so a batch's time from
  // receive to delete is its run, which the timeout bounds.
  const warm = await stack.host.invoke('dlqDrainer', { Records: [] });
  if (!warm.ok) throw new Error(`the fixture did not start: ${warm.error.errorMessage}`);
});
afterAll(async () => stack?.close());

describe('SQS event source', () => {
  it('deletes successes, redelivers failures after the visibility timeout, and redrives to the DLQ after maxReceiveCount', async () => {
    await stack.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.endpoints.errorsQueueUrl,
        Entries: [
          { Id: 'a', MessageBody: JSON.stringify({ n: 'a' }) },
          { Id: 'poison', MessageBody: JSON.stringify({ n: 'poison', fail: true }) },
          { Id: 'b', MessageBody: JSON.stringify({ n: 'b' }) },
        ],
      }),
    );
    const dlqUrl = stack.endpoints.errorsQueueUrl.replace(
      /iot-sensor-errors$/,
      stack.topology.queues.errors.deadLetterQueueName,
    );
    const inDlq = await waitFor(
      async () =>
        (
          await stack.sqs.send(
            new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          )
        ).Messages ?? [],
      (m) => m.length > 0,
      // Two visibility timeouts pass before the redrive; the rest is slack for a busy machine.
      4 * VISIBILITY_SECONDS * 1000 + 60_000,
      'the poison message in the DLQ',
    );
    expect(inDlq.map((m) => JSON.parse(m.Body ?? '{}'))).toEqual([{ n: 'poison', fail: true }]);
    const rows = await stack.db.query<{ body: string; receive_count: number; event_source_arn: string }>(
      'SELECT body, receive_count, event_source_arn FROM fixture_messages ORDER BY id',
    );
    const poison = rows.rows.filter((r) => r.body.includes('poison')).map((r) => r.receive_count);
    // Each receive once, up to maxReceiveCount (2). Sorted: two deliveries handled by different
    // containers can insert their rows in either order on a loaded machine.
    expect([...poison].sort((a, b) => a - b)).toEqual([1, 2]);
    // The successful neighbours were delivered once and deleted.
    expect(rows.rows.filter((r) => !r.body.includes('poison')).map((r) => r.receive_count)).toEqual([1, 1]);
    expect(rows.rows[0]?.event_source_arn).toBe(
      `arn:aws:sqs:us-east-1:000000000000:${stack.topology.queues.errors.name}`,
    );
    expect(await count(stack.db, 'SELECT count(*) AS n FROM fixture_messages')).toBe(4);
  }, 180_000);
});

describe('visibility timeout against the function timeout', () => {
  it('the stack refuses a queue whose visibility timeout a running batch could outlast, naming queue, function and the least value', async () => {
    const t = copyTopology();
    t.functions.dlqDrainer.timeoutSeconds = 5;
    t.queues.failures.visibilityTimeoutSeconds = 29;
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-rt-sqs-unsound-'));
    try {
      const start = startStack({
        projectRoot: PROJECT_ROOT,
        stateDir,
        topology: t,
        // Never reached: the topology is checked before anything starts or connects.
        databaseUrl: 'postgres://nobody@127.0.0.1:1/none',
        ports: { postgres: 0, kinesis: 0, sqs: 0, lambda: 0 },
      });
      await expect(start).rejects.toThrow(
        /queue iot-ingest-failures has a visibility timeout of 29 s, but iot-dlq-drainer reads it with a timeout of 5 s: it must be at least 6 times that \(30 s\)/,
      );
      // The errors queue (still 180 s) is sound and not named.
      await expect(start).rejects.not.toThrow(/iot-sensor-errors /);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
