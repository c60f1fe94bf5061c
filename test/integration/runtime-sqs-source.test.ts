/**
 * The embedded SQS event source against fauxqs and a fixture handler: partial batch responses
 * delete only the successful messages, a failed message comes back after the visibility
 * timeout with a higher ApproximateReceiveCount, and after maxReceiveCount receives the queue's
 * redrive policy moves it to the DLQ, where the host stops seeing it.
 */
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copyTopology,
  count,
  startTestStack,
  type TestStack,
  waitFor,
  withFixtures,
} from '../support/runtime-stack.js';

let stack: TestStack;
beforeAll(async () => {
  const t = withFixtures(copyTopology(), { dlqDrainer: 'test/fixtures/handlers/sqs-recorder.ts' });
  t.queues.errors.visibilityTimeoutSeconds = 1;
  t.queues.errors.maxReceiveCount = 3;
  stack = await startTestStack({
    topology: t,
    label: 'rt_sqs',
    host: { enable: { kinesis: false, schedules: false } },
  });
  // A cold start (tsx compiling the handler) can outlast the 1 s visibility timeout on a busy
  // machine, and the successes would then be redelivered: start the container before the test.
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
      30_000,
      'the poison message in the DLQ',
    );
    expect(inDlq.map((m) => JSON.parse(m.Body ?? '{}'))).toEqual([{ n: 'poison', fail: true }]);
    const rows = await stack.db.query<{ body: string; receive_count: number; event_source_arn: string }>(
      'SELECT body, receive_count, event_source_arn FROM fixture_messages ORDER BY id',
    );
    const poison = rows.rows.filter((r) => r.body.includes('poison')).map((r) => r.receive_count);
    // Each receive once, up to maxReceiveCount. Sorted: two deliveries handled by different
    // containers can insert their rows in either order on a loaded machine.
    expect([...poison].sort((a, b) => a - b)).toEqual([1, 2, 3]);
    // The successful neighbours were delivered once and deleted.
    expect(rows.rows.filter((r) => !r.body.includes('poison')).map((r) => r.receive_count)).toEqual([1, 1]);
    expect(rows.rows[0]?.event_source_arn).toBe(
      `arn:aws:sqs:us-east-1:000000000000:${stack.topology.queues.errors.name}`,
    );
    expect(await count(stack.db, 'SELECT count(*) AS n FROM fixture_messages')).toBe(5);
  });
});
