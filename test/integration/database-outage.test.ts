/**
 * The database stopped during a stream: the validator reports the valid records as failures
 * (rejections still go to the DLQ), and after the server is back the retried batch lands every
 * record exactly once. Uses its own PostgreSQL server, so stopping it affects no other test.
 */

import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '#db/migrate.js';
import { ensureDatabase, type RunningPostgres, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import { type RunningSqs, startSqs } from '../support/emulators.js';
import { aReading, encode, kinesisEvent, lambdaContext } from '../support/factories.js';
import { freePort } from '../support/free-port.js';

let stateDir: string;
let port: number;
let server: RunningPostgres | undefined;
let sqs: RunningSqs;
let databaseUrl: string;
let validator: (
  e: ReturnType<typeof kinesisEvent>['event'],
  c: ReturnType<typeof lambdaContext>,
) => Promise<KinesisStreamBatchResponse>;

const start = async (): Promise<RunningPostgres> => startEmbeddedPostgres({ stateDir, port, persistent: true });

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-outage-'));
  port = await freePort();
  server = await start();
  await ensureDatabase(server.adminUrl, 'iot');
  databaseUrl = server.urlFor('iot');
  await migrate({ database: databaseUrl });
  sqs = await startSqs();
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    ERRORS_QUEUE_URL: await sqs.createQueue('iot-sensor-errors'),
    SQS_ENDPOINT: sqs.endpoint,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  validator = (await import('#lambdas/validator/handler.js')).handler as typeof validator;
});

afterAll(async () => {
  await server?.stop();
  await sqs?.stop();
  if (stateDir) await removeStateDir(stateDir);
});

async function countReadings(): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM sensor_readings')).rows[0].n);
  } finally {
    await client.end();
  }
}

it('reports failures while the database is down, then lands every record once on retry', async () => {
  const before = kinesisEvent([encode(aReading()), encode(aReading())]);
  expect((await validator(before.event, lambdaContext('validator'))).batchItemFailures).toEqual([]);

  await server?.stop();
  server = undefined;
  const during = kinesisEvent([encode(aReading()), encode('not json'), encode(aReading()), encode(aReading())]);
  const failed = await validator(during.event, lambdaContext('validator'));
  const valid = [0, 2, 3].map((i) => during.sequenceNumbers[i]);
  expect(failed.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(valid);

  server = await start();
  // The event source retries from the lowest failed sequence number: the same records again.
  const retried = await validator(during.event, lambdaContext('validator'));
  expect(retried.batchItemFailures).toEqual([]);
  const again = await validator(during.event, lambdaContext('validator'));
  expect(again.batchItemFailures).toEqual([]);
  expect(await countReadings()).toBe(5);
});
