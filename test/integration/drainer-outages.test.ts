/**
 * "Outages heal" for the drainer's side of the pipeline, on the embedded stack with the real
 * drainer:
 *
 * - the database down while rejections wait in the errors queue: the drainer's batches fail,
 *   the messages stay queued (not lost, not moved to the DLQ), and once the server is back
 *   every rejection lands exactly once;
 * - the failures queue gone while the Kinesis source gives up on records: the records are not
 *   acknowledged until the notice is durable; once the queue is back the notice is sent, and
 *   the drainer reads the records back from the stream and lands them.
 *
 * The database is a PostgreSQL server of this file's own (stopping it touches no other test);
 * the failures queue is taken away with DeleteQueue and created again with the same name.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '#db/migrate.js';
import { packErrorMessages } from '#domain/error-message.js';
import { buildErrorRecord } from '#domain/error-record.js';
import { ensureDatabase, type RunningPostgres, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import { ensureQueues } from '#runtime/stack.js';
import { aPosition, aReading, encode } from '../support/factories.js';
import { freePort } from '../support/free-port.js';
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

let pgStateDir: string;
let port: number;
let server: RunningPostgres | undefined;

const startServer = (): Promise<RunningPostgres> =>
  startEmbeddedPostgres({ stateDir: pgStateDir, port, persistent: true });

beforeAll(async () => {
  pgStateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-drainer-outage-'));
  port = await freePort();
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
  if (pgStateDir) await removeStateDir(pgStateDir);
});

async function databaseFor(name: string): Promise<string> {
  if (!server) throw new Error('no server');
  await ensureDatabase(server.adminUrl, name);
  const url = server.urlFor(name);
  await migrate({ database: url });
  return url;
}

/** Visible plus in-flight messages of a queue, by name. */
async function queued(stack: TestStack, name: string): Promise<number> {
  const url = (await stack.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  const out = await stack.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? Number.NaN) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? Number.NaN)
  );
}

/** A log of the stack's folder, '' before its first line (the file is created by the first write). */
function logOf(stack: TestStack, file: string): string {
  try {
    return readFileSync(path.join(stack.stateDir, 'logs', file), 'utf8');
  } catch {
    return '';
  }
}
const hostLog = (stack: TestStack): string => logOf(stack, 'host.log');
const drainerLog = (stack: TestStack): string => logOf(stack, `${stack.topology.functions.dlqDrainer.name}.log`);

describe('the drainer across outages', () => {
  it(
    'database down while draining: the rejections stay queued and land exactly once when it is back',
    async () => {
      const t = copyTopology();
      // The smallest sound pair (visibility = 6 × timeout), so a failed batch comes back soon.
      t.functions.dlqDrainer.timeoutSeconds = 2;
      t.queues.errors.visibilityTimeoutSeconds = 12;
      const databaseUrl = await databaseFor('drainer_db_outage');
      const stack = await startTestStack({
        topology: t,
        label: 'drainer_db_outage',
        databaseUrl,
        host: { enable: { kinesis: false, schedules: false } },
      });
      // Its idle connections die with the server: noted, not a crash of this test process.
      stack.db.on('error', () => undefined);
      try {
        const N = 30;
        const rejections = Array.from({ length: N }, (_, i) =>
          buildErrorRecord({
            errorType: 'JSON_PARSE_ERROR',
            errorMessage: 'not JSON',
            data: encode(`not json ${i}`),
            payloadCapBytes: t.payloadCapBytes,
            position: aPosition(),
            errorTime: new Date(),
          }),
        );
        const messages = packErrorMessages(rejections, 1_024);
        expect(messages.length).toBeGreaterThan(1);

        await server?.stop();
        server = undefined;
        for (let i = 0; i < messages.length; i += 10) {
          await stack.sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: stack.endpoints.errorsQueueUrl,
              Entries: messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: m.body })),
            }),
          );
        }
        // The drainer ran against the stopped database (its own log says so) and landed nothing:
        // receiving the messages is not enough, a cold container may not have run them yet.
        await waitFor(
          async () => drainerLog(stack),
          (log) => log.includes('"problems":["database: '),
          LOADED_MACHINE_BOUND_MS,
          'a drainer batch failing on the stopped database',
        );
        expect(stack.host.status().sources.sqs?.deleted).toBe(0);
        expect(await queued(stack, t.queues.errors.name)).toBe(messages.length);
        expect(await count(stack.db, 'SELECT 0 AS n').catch(() => 'down')).toBe('down');

        server = await startServer();
        await waitFor(
          () => count(stack.db, 'SELECT count(*) AS n FROM sensor_errors'),
          (n) => n >= N,
          LOADED_MACHINE_BOUND_MS,
          'every rejection after the database is back',
        );
        await waitFor(
          () => queued(stack, t.queues.errors.name),
          (n) => n === 0,
          LOADED_MACHINE_BOUND_MS,
          'the errors queue to empty',
        );
        expect(await count(stack.db, 'SELECT count(*) AS n FROM sensor_errors')).toBe(N);
        expect(await queued(stack, t.queues.errors.deadLetterQueueName)).toBe(0);
      } finally {
        if (!server) server = await startServer();
        await stack.close();
      }
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    'failures queue gone when records are given up on: nothing is acknowledged until the notice lands, then the drainer lands them',
    async () => {
      const t = withFixtures(copyTopology(), { validator: 'test/fixtures/handlers/always-fails.ts' });
      const source = t.kinesisSources[0];
      if (!source) throw new Error('no Kinesis source');
      source.retryAttempts = 0;
      source.bisectBatchOnError = false;
      const databaseUrl = await databaseFor('drainer_queue_outage');
      const stack = await startTestStack({
        topology: t,
        label: 'drainer_queue_outage',
        databaseUrl,
        host: { enable: { schedules: false } },
      });
      try {
        await stack.sqs.send(new DeleteQueueCommand({ QueueUrl: stack.endpoints.failuresQueueUrl }));
        const readings = Array.from({ length: 6 }, (_, i) => aReading({ sensor_id: `outage-${i % 2}` }));
        await putRecords(
          stack,
          readings.map((r) => ({ key: String(r.sensor_id), data: r })),
        );
        await waitFor(
          async () => hostLog(stack),
          (log) => log.includes('on-failure queue unavailable'),
          LOADED_MACHINE_BOUND_MS,
          'a notice refused by the missing queue',
        );
        // Not acknowledged: the records are still owed on their shards.
        const owedRecords = stack.host.status().shards.reduce((sum, s) => sum + s.outstanding, 0);
        expect(owedRecords).toBeGreaterThan(0);
        expect(stack.host.status().sources.kinesis?.noticesSent ?? 0).toBe(0);

        await ensureQueues(stack.sqs, t);
        await waitFor(
          () => count(stack.db, 'SELECT count(*) AS n FROM sensor_readings'),
          (n) => n >= readings.length,
          LOADED_MACHINE_BOUND_MS,
          'the given-up records landed by the drainer',
        );
        await waitFor(
          async () => stack.host.status().shards.reduce((sum, s) => sum + s.outstanding, 0),
          (n) => n === 0,
          LOADED_MACHINE_BOUND_MS,
          'the records acknowledged',
        );
        await waitFor(
          () => queued(stack, t.queues.failures.name),
          (n) => n === 0,
          LOADED_MACHINE_BOUND_MS,
          'the failures queue to empty',
        );
        expect(await count(stack.db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(readings.length);
        expect(stack.host.status().sources.kinesis?.noticesSent).toBeGreaterThanOrEqual(1);
        expect(await queued(stack, t.queues.failures.deadLetterQueueName)).toBe(0);
      } finally {
        await stack.close();
      }
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );
});
