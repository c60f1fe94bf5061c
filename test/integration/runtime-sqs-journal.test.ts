/**
 * The embedded SQS survives restarts (runtime/embedded/sqs-journal.ts).
 *
 * 1. Real fauxqs in this process: messages sent (with attributes), some consumed, one redriven
 *    to its DLQ; a new fauxqs started on the same journal gets exactly the outstanding ones back.
 * 2. The guarantee, end to end: `npm start`'s process (runtime/serve.ts) hosts fauxqs itself.
 *    Records go through the real validator, which acknowledges them (checkpoints at the end of
 *    every shard) once their rejections are in SQS; the drainer cannot land them because the
 *    test holds a lock on sensor_errors. The process is killed with SIGKILL, everything it ran
 *    is gone (its containers, its database sessions) and no error row exists. After a restart on
 *    the same state folder every rejection becomes a sensor_errors row exactly once: they can
 *    only have come from the journal, since the stream is not read again.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';
import { type RunningEmulator, startKinesalite, startSqsEmulator } from '#runtime/embedded/emulators.js';
import { readJournal, replayJournal, SqsJournal } from '#runtime/embedded/sqs-journal.js';
import { ensureQueues, sqsJournalFile } from '#runtime/stack.js';
import { createTestDatabase } from '../support/database.js';
import { aReading } from '../support/factories.js';
import {
  copyTopology,
  count,
  LOADED_MACHINE_BOUND_MS,
  type ServeProcess,
  spawnServe,
  waitFor,
} from '../support/runtime-stack.js';

const REGION = 'us-east-1';

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-sqs-journal-'));
});
afterAll(async () => {
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function receiveAll(sqs: SQSClient, url: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        VisibilityTimeout: 60,
      }),
    );
    if (!r.Messages?.length) return out;
    out.push(...r.Messages);
  }
}

describe('embedded SQS journal', () => {
  it('a new fauxqs on the same journal gets back exactly the messages not consumed, attributes and DLQ included', async () => {
    const file = path.join(stateDir, 'in-process', 'sqs-journal.ndjson');
    const t = copyTopology();
    t.queues.errors.maxReceiveCount = 1;
    t.queues.errors.visibilityTimeoutSeconds = 0;

    let journal = SqsJournal.open({ file });
    let server: RunningEmulator = await startSqsEmulator({ port: 0, region: REGION, journal });
    let sqs = createSqsClient({ region: REGION, endpoint: server.url });
    let urls = await ensureQueues(sqs, t);
    // A poison message received twice without a delete (maxReceiveCount 1, visibility 0): the
    // second receive redrives it to the DLQ.
    const poison = '{"poison":true}';
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: urls.errors, Entries: [{ Id: 'p', MessageBody: poison }] }));
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: urls.errors }))).Messages?.[0]?.Body).toBe(poison);
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: urls.errors }))).Messages ?? []).toHaveLength(0);
    expect(readFileSync(file, 'utf8')).toContain('"from":"iot-sensor-errors"');

    const bodies = Array.from({ length: 25 }, (_, i) => `{"n":${i}}`);
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: urls.errors,
          Entries: bodies.slice(i, i + 10).map((b, j) => ({
            Id: String(j),
            MessageBody: b,
            MessageAttributes: {
              n: { DataType: 'Number', StringValue: String(i + j) },
              raw: { DataType: 'Binary', BinaryValue: Buffer.from([i + j, 255]) },
            },
          })),
        }),
      );
    }
    // Five consumed; the rest stay, some of them in flight (received, not deleted) at the stop.
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: urls.errors, MaxNumberOfMessages: 8, VisibilityTimeout: 60 }),
    );
    expect(received.Messages).toHaveLength(8);
    const consumed = received.Messages?.slice(0, 5) ?? [];
    for (const m of consumed)
      await sqs.send(new DeleteMessageCommand({ QueueUrl: urls.errors, ReceiptHandle: m.ReceiptHandle }));
    sqs.destroy();
    await server.stop();

    // "Restart": the journal read again, a new fauxqs, the queues created, the outstanding re-sent.
    journal = SqsJournal.open({ file });
    expect(journal.recovered.skipped).toBe(0);
    server = await startSqsEmulator({ port: 0, region: REGION, journal });
    sqs = createSqsClient({ region: REGION, endpoint: server.url });
    urls = await ensureQueues(sqs, t);
    const dlqUrl = urls.errors.replace('iot-sensor-errors', 'iot-sensor-errors-dlq');
    expect(await replayJournal(journal, sqs)).toEqual({ replayed: journal.recovered.outstanding, kept: 0 });

    const dlq = await receiveAll(sqs, dlqUrl);
    const left = await receiveAll(sqs, urls.errors);
    expect(dlq.map((m) => m.Body)).toEqual([poison]);
    const gone = new Set(consumed.map((m) => m.Body));
    expect(left.map((m) => m.Body).sort()).toEqual(bodies.filter((b) => !gone.has(b)).sort());
    for (const m of left) {
      const n = Number(m.MessageAttributes?.n?.StringValue);
      expect(m.Body).toBe(`{"n":${n}}`);
      expect(Buffer.from(m.MessageAttributes?.raw?.BinaryValue ?? []).equals(Buffer.from([n, 255]))).toBe(true);
    }
    sqs.destroy();
    await server.stop();
  });
});

/** `npm start`'s process on its own fauxqs (no SQS_ENDPOINT) and this file's stream and database. */
function serve(env: Record<string, string>): ServeProcess {
  const { SQS_ENDPOINT: _ignored, ...inherited } = process.env;
  return spawnServe(['--sqs-port', '0', '--state-dir', stateDir], { ...inherited, ...env });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start with the embedded SQS', () => {
  let kinesis: RunningEmulator;
  let db: pg.Pool;
  let databaseUrl: string;
  beforeAll(async () => {
    kinesis = await startKinesalite({ port: 0 });
    databaseUrl = await createTestDatabase('rt_sqs_journal');
    db = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'journal-test' });
  });
  afterAll(async () => {
    await db?.end();
    await kinesis?.stop();
  });

  it(
    'SIGKILL after the validator acknowledged, before the drainer landed: after a restart every rejection lands exactly once',
    async () => {
      const env = { DATABASE_URL: databaseUrl, KINESIS_ENDPOINT: kinesis.url, AWS_REGION: REGION };
      const invalid: Record<string, unknown>[] = [];
      for (let i = 0; i < 6; i++) {
        invalid.push(aReading({ sensor_id: `s-${i}`, status: 'maintenance' }));
        invalid.push(aReading({ sensor_id: `s-${i}`, value: null }));
        invalid.push(aReading({ sensor_id: `s-${i}`, value: -100 }));
        invalid.push(aReading({ sensor_id: `s-${i}`, value: 1000 }));
        invalid.push(aReading({ sensor_id: `s-${i}`, unit: undefined }));
      }
      const valid = Array.from({ length: 30 }, (_, i) => aReading({ sensor_id: `s-${i % 6}`, value: i }));
      const expected = {
        INACTIVE_SENSOR: 6,
        NULL_VALUE: 6,
        BELOW_MIN: 6,
        ABOVE_MAX: 6,
        SCHEMA_ERROR: 6,
        JSON_PARSE_ERROR: 6,
      };
      const records = [
        ...valid.map((r, i) => ({ key: `k${i}`, data: JSON.stringify(r) })),
        ...invalid.map((r, i) => ({ key: `k${i}`, data: JSON.stringify(r) })),
        ...Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, data: `not json ${i}` })),
      ];
      const rejections = records.length - valid.length;

      // The drainer's inserts wait on this lock; reading the table still works.
      const locker = new pg.Client({ connectionString: databaseUrl, application_name: 'journal-test' });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE sensor_errors IN SHARE MODE');

      const first = serve(env);
      const endpoints = await first.ready;
      const k = createKinesisClient({ region: REGION, endpoint: endpoints.kinesisEndpoint });
      const put = await k.send(
        new PutRecordsCommand({
          StreamName: endpoints.streamName,
          Records: records.map((r) => ({ PartitionKey: r.key, Data: Buffer.from(r.data) })),
        }),
      );
      k.destroy();
      expect(put.FailedRecordCount ?? 0).toBe(0);
      const lastPerShard = new Map<string, bigint>();
      for (const r of put.Records ?? []) {
        const seq = BigInt(r.SequenceNumber ?? '0');
        if (seq > (lastPerShard.get(r.ShardId ?? '') ?? 0n)) lastPerShard.set(r.ShardId ?? '', seq);
      }
      // Every record acknowledged: each shard's checkpoint is at its last record, so the stream is
      // never read again and every rejection has been accepted by SQS.
      await waitFor(
        async () =>
          (
            await db.query<{ shard_id: string; seq: string }>(
              "SELECT shard_id, sequence_number::text AS seq FROM iot_runtime.kinesis_checkpoints WHERE function_name = 'iot-validator'",
            )
          ).rows,
        (rows) =>
          [...lastPerShard].every(([shard, last]) => rows.some((r) => r.shard_id === shard && BigInt(r.seq) >= last)),
        // 30 s here once failed on a busy machine: the validator's cold start alone can take that.
        LOADED_MACHINE_BOUND_MS,
        'checkpoints at the end of every shard',
      );
      expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(valid.length);

      // Kill -9, and make sure nothing the killed process ran can still land a row.
      const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(first.child.pid)], { encoding: 'utf8' })
        .split('\n')
        .map(Number)
        .filter((p) => p > 0);
      first.child.kill('SIGKILL');
      await first.exited;
      await waitFor(
        async () => children.filter(alive),
        (left) => left.length === 0,
        LOADED_MACHINE_BOUND_MS,
        'the killed runtime containers to exit',
      );
      await db.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> 'journal-test'",
      );
      await locker.query('ROLLBACK');
      await locker.end();
      expect(await count(db, 'SELECT count(*) AS n FROM sensor_errors')).toBe(0);
      // The validator packs many rejections per message: what is owed is a few messages.
      const owed = readJournal(readFileSync(sqsJournalFile(stateDir), 'utf8')).outstanding.size;
      expect(owed).toBeGreaterThan(0);

      const second = serve(env);
      await second.ready;
      await waitFor(
        () => count(db, 'SELECT count(*) AS n FROM sensor_errors'),
        (n) => n >= rejections,
        LOADED_MACHINE_BOUND_MS,
        'every rejection after the restart',
      );
      const log = readFileSync(path.join(stateDir, 'logs', 'runtime.log'), 'utf8');
      expect(log).toContain(`sqs journal: ${owed} message(s) outstanding at the last stop re-sent to their queues`);

      // Graceful stop: the drainer has emptied the queues, so the journal is left with nothing outstanding.
      second.child.kill('SIGTERM');
      expect(await second.exited).toEqual({ code: 0, signal: null });
      expect(await count(db, 'SELECT count(*) AS n FROM sensor_errors')).toBe(rejections);
      expect(await count(db, 'SELECT count(DISTINCT (shard_id, sequence_number)) AS n FROM sensor_errors')).toBe(
        rejections,
      );
      const byType = await db.query<{ error_type: string; n: string }>(
        'SELECT error_type, count(*) AS n FROM sensor_errors GROUP BY 1',
      );
      expect(Object.fromEntries(byType.rows.map((r) => [r.error_type, Number(r.n)]))).toEqual(expected);
      expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(valid.length);
      expect(readJournal(readFileSync(sqsJournalFile(stateDir), 'utf8')).outstanding.size).toBe(0);
    },
    4 * LOADED_MACHINE_BOUND_MS,
  );
});
