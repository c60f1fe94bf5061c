/**
 * The embedded stack's own parts on one state folder, through `npm start`'s process
 * (runtime/serve.ts) with nothing from outside: the embedded PostgreSQL, kinesalite and fauxqs
 * with its journal. What the runtime README promises about that folder:
 *
 * - a stop and a start keep the stream's records (kinesalite's LevelDB folder), the database's
 *   rows and the queued messages (the SQS journal);
 * - after a kill -9 of the stack, the PostgreSQL server it leaves running on the folder's data
 *   directory is stopped by the next start, which then starts with the same data;
 * - `--fresh` deletes the database, the stream, the journal and the checkpoints, and nothing
 *   else: other files in the state folder, the logs, and whatever sits beside the data
 *   directory stay.
 *
 * One state folder walks through those steps in order; each step starts where the last ended.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';
import { postgresDataDir } from '#runtime/embedded/postgres.js';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import type { Endpoints } from '#runtime/stack.js';
import { topology } from '#topology.js';
import { createTestDatabase } from '../support/database.js';
import { aReading } from '../support/factories.js';
import {
  count,
  LOADED_MACHINE_BOUND_MS,
  putReadingsAt,
  type ServeProcess,
  spawnServe,
  waitFor,
} from '../support/runtime-stack.js';

const RECORDS = 12;
const DLQ = topology.queues.errors.deadLetterQueueName;

let stateDir: string;
/** The environment of `npm start` with nothing pointing it at outside services. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-state-folder-'));
  env = { ...process.env };
  for (const name of ['DATABASE_URL', 'KINESIS_ENDPOINT', 'SQS_ENDPOINT', 'IOT_FIRST_STATE_DIR']) delete env[name];
});
afterAll(async () => {
  if (stateDir) await removeStateDir(stateDir);
});

function start(...extra: string[]): ServeProcess {
  return spawnServe(
    ['--state-dir', stateDir, '--pg-port', '0', '--kinesis-port', '0', '--sqs-port', '0', ...extra],
    env,
  );
}

async function stopGracefully(serve: ServeProcess): Promise<void> {
  serve.child.kill('SIGTERM');
  expect(await serve.exited).toEqual({ code: 0, signal: null });
}

/** Every record the stream holds, read from the start of every shard, as text. */
async function streamContents(endpoints: Endpoints): Promise<string[]> {
  const kinesis = createKinesisClient({ region: endpoints.region, endpoint: endpoints.kinesisEndpoint });
  try {
    const shards = await kinesis.send(new ListShardsCommand({ StreamName: endpoints.streamName }));
    const out: string[] = [];
    for (const shard of shards.Shards ?? []) {
      let iterator = (
        await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: endpoints.streamName,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      // kinesalite answers an empty page only at the tip; a few pages cover these few records.
      for (let page = 0; iterator && page < 20; page++) {
        const res = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1_000 }));
        for (const r of res.Records ?? []) out.push(Buffer.from(r.Data ?? new Uint8Array()).toString('utf8'));
        if ((res.Records ?? []).length === 0) break;
        iterator = res.NextShardIterator;
      }
    }
    return out.sort();
  } finally {
    kinesis.destroy();
  }
}

/** The bodies waiting in the errors queue's DLQ (nothing consumes it), received and left visible again soon. */
async function dlqBodies(endpoints: Endpoints): Promise<string[]> {
  const sqs = createSqsClient({ region: endpoints.region, endpoint: endpoints.sqsEndpoint });
  try {
    const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: DLQ }))).QueueUrl;
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
    );
    return (out.Messages ?? []).map((m) => m.Body ?? '').sort();
  } finally {
    sqs.destroy();
  }
}

async function withDatabase<T>(endpoints: Endpoints, use: (db: pg.Pool) => Promise<T>): Promise<T> {
  const db = new pg.Pool({ connectionString: endpoints.databaseUrl, max: 1 });
  try {
    return await use(db);
  } finally {
    await db.end();
  }
}

function postmasterPid(): number {
  return Number(readFileSync(path.join(postgresDataDir(stateDir), 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What the first run wrote, so later steps can tell kept from deleted. */
const written = { records: [] as string[], dlqBody: JSON.stringify({ probe: 'kept in the journal' }) };
/** Files that are not the stack's state: `--fresh` must leave them. */
const bystanders = (): string[] => [
  path.join(stateDir, 'notes.txt'),
  path.join(path.dirname(postgresDataDir(stateDir)), 'beside-pgdata.txt'),
];

describe('the embedded stack on one state folder', () => {
  it(
    'keeps the stream, the database and queued messages across a graceful stop and start',
    async () => {
      const first = start();
      const endpoints = await first.ready;
      const readings = Array.from({ length: RECORDS }, (_, i) => aReading({ sensor_id: `keep-${i % 3}` }));
      await putReadingsAt(endpoints, readings);
      written.records = readings.map((r) => JSON.stringify(r)).sort();
      await withDatabase(endpoints, async (db) => {
        await waitFor(
          () => count(db, 'SELECT count(*) AS n FROM sensor_readings'),
          (n) => n === RECORDS,
          LOADED_MACHINE_BOUND_MS,
          'the readings to land',
        );
        await db.query('CREATE TABLE user_notes (note text); INSERT INTO user_notes VALUES ($$mine$$)');
      });
      const sqs = createSqsClient({ region: endpoints.region, endpoint: endpoints.sqsEndpoint });
      const dlqUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: DLQ }))).QueueUrl;
      await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: written.dlqBody }));
      sqs.destroy();
      expect(await streamContents(endpoints)).toEqual(written.records);
      await stopGracefully(first);

      const second = start();
      const again = await second.ready;
      try {
        expect(await streamContents(again)).toEqual(written.records);
        await withDatabase(again, async (db) => {
          expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(RECORDS);
          expect((await db.query('SELECT note FROM user_notes')).rows).toEqual([{ note: 'mine' }]);
          // The checkpoints came through too: both shards, nothing read again from the start.
          expect(await count(db, 'SELECT count(*) AS n FROM iot_runtime.kinesis_checkpoints')).toBe(
            topology.stream.shardCount,
          );
        });
        expect(await dlqBodies(again)).toEqual([written.dlqBody]);
      } finally {
        await stopGracefully(second);
      }
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    'after a kill -9, the next start stops the PostgreSQL server left running and keeps its data',
    async () => {
      const killed = start();
      await killed.ready;
      const orphan = postmasterPid();
      killed.child.kill('SIGKILL');
      await killed.exited;
      // The server outlives the stack that started it: that is the case to clean up.
      expect(alive(orphan), `PostgreSQL ${orphan} still running after the kill`).toBe(true);

      const next = start();
      const endpoints = await next.ready.catch((error: Error) => {
        throw new Error(`${error.message}\n${next.stderr()}`);
      });
      try {
        expect(alive(orphan)).toBe(false);
        expect(postmasterPid()).not.toBe(orphan);
        expect(readFileSync(path.join(stateDir, 'logs', 'runtime.log'), 'utf8')).toContain(
          `stopping PostgreSQL (pid ${orphan}) left running by a previous run`,
        );
        await withDatabase(endpoints, async (db) => {
          expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(RECORDS);
          expect((await db.query('SELECT note FROM user_notes')).rows).toEqual([{ note: 'mine' }]);
        });
        expect(await streamContents(endpoints)).toEqual(written.records);
      } finally {
        await stopGracefully(next);
      }
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    '--fresh deletes the database, the stream, the journal and the checkpoints, and nothing else',
    async () => {
      for (const file of bystanders()) {
        await mkdir(path.dirname(file), { recursive: true });
        writeFileSync(file, 'not the stack state\n');
      }
      const logBefore = readFileSync(path.join(stateDir, 'logs', 'runtime.log'), 'utf8');
      expect(logBefore.length).toBeGreaterThan(0);

      const fresh = start('--fresh');
      const endpoints = await fresh.ready;
      try {
        expect(await streamContents(endpoints)).toEqual([]);
        await withDatabase(endpoints, async (db) => {
          expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(0);
          expect(await count(db, "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'user_notes'")).toBe(0);
          expect(await count(db, 'SELECT count(*) AS n FROM iot_runtime.kinesis_checkpoints')).toBe(0);
          // The migrations ran again on the new database.
          expect(await count(db, "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'sensor_readings'")).toBe(1);
        });
        expect(await dlqBodies(endpoints)).toEqual([]);
        for (const file of bystanders()) expect(readFileSync(file, 'utf8'), file).toBe('not the stack state\n');
        // The log is appended to, not replaced.
        expect(readFileSync(path.join(stateDir, 'logs', 'runtime.log'), 'utf8').startsWith(logBefore)).toBe(true);
        expect(existsSync(path.join(stateDir, 'endpoints.json'))).toBe(true);
      } finally {
        await stopGracefully(fresh);
      }
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    '--fresh with DATABASE_URL resets only the host checkpoints (and the stream, the journal): the tables are left alone',
    async () => {
      const databaseUrl = await createTestDatabase('fresh_external');
      const ownState = await mkdtemp(path.join(os.tmpdir(), 'iot-first-fresh-external-'));
      const external = { ...env, DATABASE_URL: databaseUrl };
      const args = ['--state-dir', ownState, '--kinesis-port', '0', '--sqs-port', '0'];
      try {
        const first = spawnServe(args, external);
        const endpoints = await first.ready;
        await putReadingsAt(
          endpoints,
          [0, 1, 2, 3].map((i) => aReading({ sensor_id: `ext-${i}` })),
        );
        await withDatabase(endpoints, async (db) => {
          await waitFor(
            () => count(db, 'SELECT count(*) AS n FROM sensor_readings'),
            (n) => n === 4,
            LOADED_MACHINE_BOUND_MS,
            'the readings to land',
          );
          await waitFor(
            () => count(db, 'SELECT count(*) AS n FROM iot_runtime.kinesis_checkpoints'),
            (n) => n > 0,
            LOADED_MACHINE_BOUND_MS,
            'a checkpoint',
          );
        });
        await stopGracefully(first);

        const fresh = spawnServe([...args, '--fresh'], external);
        const again = await fresh.ready;
        try {
          expect(readFileSync(path.join(ownState, 'logs', 'runtime.log'), 'utf8')).toContain(
            '--fresh: DATABASE_URL is an existing database; its tables were left as they are',
          );
          await withDatabase(again, async (db) => {
            expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(4);
            expect(await count(db, 'SELECT count(*) AS n FROM iot_runtime.kinesis_checkpoints')).toBe(0);
          });
          expect(await streamContents(again)).toEqual([]);
        } finally {
          await stopGracefully(fresh);
        }
      } finally {
        await rm(ownState, { recursive: true, force: true });
      }
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );
});
