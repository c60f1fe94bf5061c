/**
 * The `npm start` process itself (runtime/serve.ts, which the launcher runs), with the real
 * handlers: READY line and endpoints.json, SIGKILL in the middle of a stream and a restart
 * (still exactly N rows: durable checkpoints, nothing skipped, nothing doubled), a graceful
 * SIGTERM exiting 0 with nothing left running, and start-up failures that name their cause.
 *
 * kinesalite and fauxqs run in this test process, so the stream and the queues outlive the
 * killed runtime (as AWS's do); the runtime attaches to them through KINESIS_ENDPOINT and
 * SQS_ENDPOINT, and to this file's database through DATABASE_URL.
 */

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsClient } from '#adapters/aws/clients.js';
import { type RunningEmulator, startKinesalite, startSqsEmulator } from '#runtime/embedded/emulators.js';
import { ensureQueues } from '#runtime/stack.js';
import { createTestDatabase } from '../support/database.js';
import { localLambdaClient } from '../support/invoke-api-stack.js';
import {
  copyTopology,
  count,
  LOADED_MACHINE_BOUND_MS,
  type ServeProcess,
  spawnServe,
  waitFor,
} from '../support/runtime-stack.js';

const N = 6_000;

function serve(args: string[], env: Record<string, string>): ServeProcess {
  return spawnServe(args, { ...process.env, ...env });
}

let kinesis: RunningEmulator;
let sqs: RunningEmulator;
let databaseUrl: string;
let db: pg.Pool;
let stateDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  kinesis = await startKinesalite({ port: 0 });
  sqs = await startSqsEmulator({ port: 0, region: 'us-east-1' });
  databaseUrl = await createTestDatabase('rt_process');
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-process-'));
  // Queues created up front with a short visibility timeout, so messages a killed runtime held
  // come back within seconds (the runtime uses existing queues as they are).
  const t = copyTopology();
  t.queues.errors.visibilityTimeoutSeconds = 2;
  t.queues.failures.visibilityTimeoutSeconds = 2;
  const client = createSqsClient({ region: 'us-east-1', endpoint: sqs.url });
  await ensureQueues(client, t);
  client.destroy();
  env = { DATABASE_URL: databaseUrl, KINESIS_ENDPOINT: kinesis.url, SQS_ENDPOINT: sqs.url, AWS_REGION: 'us-east-1' };
});
afterAll(async () => {
  await db?.end();
  await kinesis?.stop();
  await sqs?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const landed = (): Promise<number> =>
  count(db, 'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n');

/** Messages a queue still holds, visible or in flight (fauxqs runs in this process and outlives the runtime). */
async function messagesOwed(queueUrl: string): Promise<number> {
  const client = createSqsClient({ region: 'us-east-1', endpoint: sqs.url });
  try {
    const out = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(out.Attributes?.ApproximateNumberOfMessages ?? Number.NaN) +
      Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? Number.NaN)
    );
  } finally {
    client.destroy();
  }
}

describe('npm start process', () => {
  it(
    'survives SIGKILL mid-stream: after a restart every reading has landed exactly once',
    async () => {
      const first = serve(['--state-dir', stateDir], env);
      const endpoints = await first.ready;
      expect(JSON.parse(readFileSync(path.join(stateDir, 'endpoints.json'), 'utf8'))).toEqual(endpoints);
      expect(endpoints).toMatchObject({
        kinesisEndpoint: kinesis.url,
        sqsEndpoint: sqs.url,
        databaseUrl,
        streamName: 'iot_sensor_data',
        region: 'us-east-1',
      });

      const lambda = localLambdaClient(endpoints.lambdaEndpoint);
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: 'producer',
          Payload: new TextEncoder().encode(JSON.stringify({ count: N, sensors: 50, seed: 11 })),
        }),
      );
      lambda.destroy();
      const produced = JSON.parse(new TextDecoder().decode(out.Payload)) as {
        sent: number;
        expected: Record<string, number>;
      };
      expect(produced.sent).toBe(N);

      await waitFor(landed, (n) => n >= 300, LOADED_MACHINE_BOUND_MS, 'the first rows');
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = await landed();
      // The kill really happened mid-stream (otherwise the restart would prove nothing).
      expect(atKill).toBeLessThan(N);

      const second = serve(['--state-dir', stateDir], env);
      const restarted = await second.ready;
      await waitFor(landed, (n) => n >= N, LOADED_MACHINE_BOUND_MS, 'every reading after the restart');

      // Graceful stop: exit 0, the endpoints file removed, no container left behind. Batches in
      // flight finish first, so once it has exited and no message is owed in either queue, nothing
      // can land any more: the counts below are final (no sleep waiting for a duplicate).
      second.child.kill('SIGTERM');
      const exit = await second.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(second.stderr()).toContain('stopped');
      expect(existsSync(path.join(stateDir, 'endpoints.json'))).toBe(false);
      for (const url of [restarted.errorsQueueUrl, restarted.failuresQueueUrl])
        expect(await messagesOwed(url), url).toBe(0);

      expect(await landed()).toBe(N);
      expect(
        await count(
          db,
          `SELECT count(DISTINCT (shard_id, sequence_number)) AS n FROM
           (SELECT shard_id, sequence_number FROM sensor_readings UNION ALL SELECT shard_id, sequence_number FROM sensor_errors) x`,
        ),
      ).toBe(N);
      expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(produced.expected.valid);
      const byType = await db.query<{ error_type: string; n: string }>(
        'SELECT error_type, count(*) AS n FROM sensor_errors GROUP BY 1',
      );
      const errors = Object.fromEntries(byType.rows.map((r) => [r.error_type, Number(r.n)]));
      for (const [outcome, expected] of Object.entries(produced.expected))
        if (outcome !== 'valid') expect(errors[outcome] ?? 0, outcome).toBe(expected);
      const checkpoints = await count(db, 'SELECT count(*) AS n FROM iot_runtime.kinesis_checkpoints');
      expect(checkpoints).toBe(2);
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    'refuses a second stack on the same state folder before touching anything of the first',
    async () => {
      const first = serve(['--state-dir', stateDir], env);
      const endpoints = await first.ready;
      const second = serve(['--state-dir', stateDir, '--fresh'], env);
      expect((await second.exited).code).toBe(1);
      expect(second.stderr()).toContain(
        `cannot start: another stack (pid ${first.child.pid}) is running on ${stateDir}`,
      );
      // The first stack kept its endpoints file and still serves.
      expect(JSON.parse(readFileSync(path.join(stateDir, 'endpoints.json'), 'utf8'))).toEqual(endpoints);
      const lambda = localLambdaClient(endpoints.lambdaEndpoint);
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: 'aggregator', Payload: new TextEncoder().encode('{}') }),
      );
      lambda.destroy();
      expect(out.FunctionError).toBeUndefined();
      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      expect(existsSync(path.join(stateDir, 'stack.pid'))).toBe(false);
    },
    2 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    'fails start-up with one message naming a taken port, and with a bad DATABASE_URL',
    async () => {
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as net.AddressInfo).port;
      try {
        const taken = serve(['--state-dir', stateDir, '--lambda-port', String(port)], env);
        const exit = await taken.exited;
        expect(exit.code).toBe(1);
        expect(taken.stderr()).toMatch(
          new RegExp(`cannot start: port ${port} for the Lambda Invoke API is already in use.*with --lambda-port`),
        );
      } finally {
        blocker.close();
      }
      const bad = serve(['--state-dir', stateDir], {
        ...env,
        DATABASE_URL: 'postgres://nobody:wrong@127.0.0.1:1/none',
      });
      const exit = await bad.exited;
      expect(exit.code).toBe(1);
      expect(bad.stderr()).toMatch(/cannot start: cannot connect to DATABASE_URL \(127\.0\.0\.1:1\/none\)/);
      // Two processes start and exit: each waits for tsx to load serve.ts, slow on a busy machine.
    },
    2 * LOADED_MACHINE_BOUND_MS,
  );
});
