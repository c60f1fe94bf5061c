/**
 * The embedded Kinesis event source against real parts: kinesalite, fauxqs, PostgreSQL, and
 * the host's real child-process containers running a fixture handler that records every
 * delivery. Each test fixes one AWS semantic and reads the outcome from the database and the
 * on-failure queue, never from the host's internals.
 */

import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import type { KinesisFailureNotice } from '#runtime/host/events.js';
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

const RECORDER = 'test/fixtures/handlers/kinesis-recorder.ts';

function topologyWith(source: Partial<ReturnType<typeof copyTopology>['kinesisSources'][number]>, shardCount = 1) {
  const t = withFixtures(copyTopology(), { validator: RECORDER });
  t.stream.shardCount = shardCount;
  const s = t.kinesisSources[0];
  if (!s) throw new Error('topology has no Kinesis source');
  Object.assign(
    s,
    {
      batchSize: 10,
      maxBatchingWindowSeconds: 1,
      parallelizationFactor: 1,
      bisectBatchOnError: false,
      retryAttempts: 2,
    },
    source,
  );
  return t;
}

interface Delivery {
  request_id: string;
  position: number;
  sequence_number: string;
  partition_key: string;
  data: string;
  event_id: string;
  event_source_arn: string;
  shard_id: string;
}

async function deliveries(stack: TestStack): Promise<Delivery[]> {
  const exists = await count(stack.db, `SELECT count(*) AS n FROM pg_tables WHERE tablename = 'fixture_deliveries'`);
  if (exists === 0) return [];
  const out = await stack.db.query<Delivery>(
    'SELECT request_id, position, sequence_number::text, partition_key, data, event_id, event_source_arn, shard_id FROM fixture_deliveries ORDER BY id',
  );
  return out.rows;
}

/** Invocations in order, each as the list of sequence numbers it carried. */
function invocations(rows: Delivery[]): string[][] {
  const byRequest = new Map<string, string[]>();
  for (const r of rows) {
    const list = byRequest.get(r.request_id) ?? [];
    list[r.position] = r.sequence_number;
    byRequest.set(r.request_id, list);
  }
  return [...byRequest.values()];
}

async function receiveNotices(stack: TestStack, expected: number): Promise<KinesisFailureNotice[]> {
  const notices: KinesisFailureNotice[] = [];
  await waitFor(
    async () => {
      const out = await stack.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.endpoints.failuresQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      for (const m of out.Messages ?? []) notices.push(JSON.parse(m.Body ?? '{}') as KinesisFailureNotice);
      return notices.length;
    },
    (n) => n >= expected,
    30_000,
    'failure notices',
  );
  return notices;
}

async function checkpointOf(stack: TestStack): Promise<string | undefined> {
  const out = await stack.db.query<{ s: string }>(
    'SELECT sequence_number::text AS s FROM iot_runtime.kinesis_checkpoints',
  );
  return out.rows[0]?.s;
}

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('Kinesis event source', { timeout: 2 * LOADED_MACHINE_BOUND_MS }, () => {
  it('delivers AWS-shaped records and checkpoints the last one', async () => {
    stack = await startTestStack({
      topology: topologyWith({}),
      label: 'rt_shape',
      host: { enable: { sqs: false, schedules: false } },
    });
    const put = await putRecords(
      stack,
      Array.from({ length: 3 }, (_, i) => ({ key: 'sensor-1', data: { i } })),
    );
    const s = stack;
    const rows = await waitFor(
      () => deliveries(s),
      (r) => r.length === 3,
      LOADED_MACHINE_BOUND_MS,
      'deliveries',
    );
    const first = rows[0];
    expect(first?.event_source_arn).toBe(`arn:aws:kinesis:us-east-1:000000000000:stream/${stack.endpoints.streamName}`);
    expect(first?.event_id).toBe(`${put[0]?.shardId}:${put[0]?.sequenceNumber}`);
    expect(rows.map((r) => JSON.parse(r.data))).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const last = put[2]?.sequenceNumber;
    await waitFor(
      () =>
        stack!.db
          .query<{ s: string }>('SELECT sequence_number::text AS s FROM iot_runtime.kinesis_checkpoints')
          .then((r) => r.rows.map((x) => x.s)),
      (v) => v.includes(last ?? '-'),
      LOADED_MACHINE_BOUND_MS,
      'checkpoint',
    );
  });

  it('gathers records for the batching window before invoking, and cuts batches at the batch size', async () => {
    // A window far longer than the test: a batch can only be cut by reaching the batch size, so
    // separate PutRecords calls are gathered however slowly a busy machine makes them (a 3 s
    // window once had to hold three calls and a cold start).
    stack = await startTestStack({
      topology: topologyWith({ batchSize: 4, maxBatchingWindowSeconds: 300 }),
      label: 'rt_window',
      host: { enable: { sqs: false, schedules: false } },
    });
    // Three separate PutRecords calls: the window holds the first records until the others arrive.
    const a = await putRecords(stack, [{ key: 'sensor-1', data: { i: 0 } }]);
    const b = await putRecords(stack, [{ key: 'sensor-1', data: { i: 1 } }]);
    const c = await putRecords(
      stack,
      Array.from({ length: 6 }, (_, i) => ({ key: 'sensor-1', data: { i: i + 2 } })),
    );
    const s = stack;
    await waitFor(
      () => deliveries(s),
      (r) => r.length === 8,
      LOADED_MACHINE_BOUND_MS,
      'deliveries',
    );
    const seq = [...a, ...b, ...c].map((p) => p.sequenceNumber);
    expect(invocations(await deliveries(stack))).toEqual([seq.slice(0, 4), seq.slice(4)]);
  });

  it('on stop, finishes the batch in flight and checkpoints it before returning', async () => {
    stack = await startTestStack({
      topology: topologyWith({ batchSize: 3 }),
      label: 'rt_stop',
      host: { enable: { sqs: false, schedules: false } },
    });
    const put = await putRecords(
      stack,
      Array.from({ length: 3 }, (_, i) => ({ key: 'sensor-1', data: { i, holdUntil: 'stop' } })),
    );
    const s = stack;
    // The fixture records the deliveries, then holds the batch until released: in flight now,
    // however slow the machine (a 1.5 s sleep could end before stop() was even called).
    await waitFor(
      () => deliveries(s),
      (r) => r.length === 3,
      LOADED_MACHINE_BOUND_MS,
      'the batch to be in flight',
    );
    const stopping = stack.stop();
    await stack.db.query('CREATE TABLE IF NOT EXISTS fixture_releases (name text)');
    await stack.db.query("INSERT INTO fixture_releases VALUES ('stop')");
    await stopping;
    const checkpoint = await stack.db.query<{ s: string }>(
      'SELECT sequence_number::text AS s FROM iot_runtime.kinesis_checkpoints',
    );
    expect(checkpoint.rows.map((r) => r.s)).toEqual([put[2]?.sequenceNumber]);
  });

  it('resumes a partially failed batch at the lowest failed sequence number', async () => {
    stack = await startTestStack({
      topology: topologyWith({}),
      label: 'rt_partial',
      host: { enable: { sqs: false, schedules: false } },
    });
    const data = Array.from({ length: 10 }, (_, i) => ({
      key: 'sensor-1',
      data: i === 5 || i === 7 ? { i, failTimes: 1, mode: 'partial' } : { i },
    }));
    const put = await putRecords(stack, data);
    const seq = put.map((p) => p.sequenceNumber);
    const s = stack;
    const rows = await waitFor(
      () => deliveries(s),
      (r) => r.length >= 15,
      LOADED_MACHINE_BOUND_MS,
      'deliveries',
    );
    // The checkpoint at the last record with nothing in flight: no further delivery can come.
    await waitFor(
      async () => ({
        checkpoint: await checkpointOf(s),
        outstanding: s.host.status().shards.reduce((n, shard) => n + shard.outstanding, 0),
      }),
      (v) => v.checkpoint === seq[9] && v.outstanding === 0,
      LOADED_MACHINE_BOUND_MS,
      'the checkpoint at the last record',
    );
    const calls = invocations(await deliveries(stack));
    expect(calls).toEqual([seq, seq.slice(5)]);
    expect(rows.length).toBe(15);
  });

  it('bisects a failing batch until the poison record is alone, and gives up on it only', async () => {
    const t = topologyWith({ batchSize: 8, bisectBatchOnError: true, retryAttempts: 1 });
    stack = await startTestStack({
      topology: t,
      label: 'rt_bisect',
      host: { enable: { sqs: false, schedules: false } },
    });
    const put = await putRecords(
      stack,
      Array.from({ length: 8 }, (_, i) => ({
        key: 'sensor-1',
        data: i === 3 ? { i, failTimes: 99, mode: 'throw' } : { i },
      })),
    );
    const seq = put.map((p) => p.sequenceNumber);
    const [notice] = await receiveNotices(stack, 1);
    expect(notice?.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(notice?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: seq[3],
      endSequenceNumber: seq[3],
      batchSize: 1,
    });
    // The notice can come before the second half is delivered: wait for the checkpoint at the
    // last record with nothing in flight (it failed under load when read at once).
    const s = stack;
    await waitFor(
      async () => ({
        checkpoint: await checkpointOf(s),
        outstanding: s.host.status().shards.reduce((n, shard) => n + shard.outstanding, 0),
      }),
      (v) => v.checkpoint === seq[7] && v.outstanding === 0,
      LOADED_MACHINE_BOUND_MS,
      'the checkpoint at the last record',
    );
    const calls = invocations(await deliveries(stack));
    // 8 -> 4+4 -> (2+2) -> (1+1): the poison record alone, then once more (one retry).
    expect(calls.filter((c) => c.length === 1 && c[0] === seq[3]).length).toBe(2);
    // Every neighbour succeeded in some invocation that did not contain the poison record.
    for (const [i, s] of seq.entries()) {
      if (i === 3) continue;
      expect(calls.some((c) => c.includes(s ?? '') && !c.includes(seq[3] ?? ''))).toBe(true);
    }
    // The first half was finished before the second half started (order kept).
    const lastWithFirstHalf = calls.findLastIndex((c) => c.some((x) => seq.slice(0, 4).includes(x)));
    const firstOnlySecondHalf = calls.findIndex((c) => c.every((x) => seq.slice(4).includes(x)));
    expect(lastWithFirstHalf).toBeLessThan(firstOnlySecondHalf);
  });

  it('sends an AWS-shaped notice to the on-failure queue when retries are exhausted, then moves on', async () => {
    stack = await startTestStack({
      topology: topologyWith({ batchSize: 5, retryAttempts: 2 }),
      label: 'rt_exhaust',
      host: { enable: { sqs: false, schedules: false } },
    });
    const put = await putRecords(
      stack,
      Array.from({ length: 5 }, (_, i) => ({
        key: 'sensor-1',
        data: i === 2 ? { i, failTimes: 99, mode: 'partial' } : { i },
      })),
    );
    const seq = put.map((p) => p.sequenceNumber);
    const [notice] = await receiveNotices(stack, 1);
    expect(notice).toMatchObject({
      version: '1.0',
      requestContext: {
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
        functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${stack.topology.functions.validator.name}`,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      KinesisBatchInfo: {
        shardId: put[0]?.shardId,
        startSequenceNumber: seq[2],
        endSequenceNumber: seq[4],
        batchSize: 3,
        streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${stack.endpoints.streamName}`,
      },
    });
    expect(typeof notice?.requestContext.requestId).toBe('string');
    expect(Number.isNaN(Date.parse(notice?.timestamp ?? ''))).toBe(false);
    expect(Number.isNaN(Date.parse(notice?.KinesisBatchInfo.approximateArrivalOfFirstRecord ?? ''))).toBe(false);
    // 1 first attempt + 2 retries of records 2..4.
    expect(invocations(await deliveries(stack))).toEqual([seq, seq.slice(2), seq.slice(2)]);
    // The records given up on are acknowledged: the checkpoint reaches the last record.
    const s = stack;
    await waitFor(
      () =>
        s.db
          .query<{ s: string }>('SELECT sequence_number::text AS s FROM iot_runtime.kinesis_checkpoints')
          .then((r) => r.rows[0]?.s),
      (v) => v === seq[4],
      LOADED_MACHINE_BOUND_MS,
      'checkpoint past the given-up records',
    );
  });

  it('gives up on records older than the maximum record age with a RecordAgeExceeded notice', async () => {
    stack = await startTestStack({
      topology: topologyWith({ batchSize: 2, retryAttempts: -1, maxRecordAgeSeconds: 1 }),
      label: 'rt_age',
      host: { enable: { sqs: false, schedules: false }, retryDelayMs: () => 200 },
    });
    const put = await putRecords(stack, [
      { key: 'sensor-1', data: { i: 0, failTimes: 999, mode: 'throw' } },
      { key: 'sensor-1', data: { i: 1 } },
    ]);
    const [notice] = await receiveNotices(stack, 1);
    expect(notice?.requestContext.condition).toBe('RecordAgeExceeded');
    expect(notice?.KinesisBatchInfo).toMatchObject({
      startSequenceNumber: put[0]?.sequenceNumber,
      endSequenceNumber: put[1]?.sequenceNumber,
      batchSize: 2,
    });
  });

  it('runs parallelization-factor batches of one shard concurrently and keeps each partition key in order', async () => {
    const t = topologyWith({ batchSize: 10, maxBatchingWindowSeconds: 0, parallelizationFactor: 4 });
    stack = await startTestStack({
      topology: t,
      label: 'rt_parallel',
      host: { enable: { sqs: false, schedules: false } },
    });
    const keys = Array.from({ length: 16 }, (_, k) => `sensor-${k}`);
    // Every first record asks its batch to wait for another batch: the deliveries complete only
    // if at least two batches of the one shard are in flight at the same moment.
    const records = Array.from({ length: 20 }, (_, i) =>
      keys.map((key) => ({ key, data: i === 0 ? { key, i, rendezvous: 2 } : { key, i } })),
    ).flat();
    await putRecords(stack, records);
    const s = stack;
    const rows = await waitFor(
      () => deliveries(s),
      (r) => r.length >= records.length,
      LOADED_MACHINE_BOUND_MS,
      'all deliveries',
    );
    expect(rows.length).toBe(records.length);
    const seen = new Map<string, number[]>();
    for (const r of rows) {
      const d = JSON.parse(r.data) as { key: string; i: number };
      seen.set(d.key, [...(seen.get(d.key) ?? []), d.i]);
    }
    for (const key of keys) expect(seen.get(key)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(
      await count(s.db, 'SELECT count(DISTINCT request_id) AS n FROM fixture_deliveries WHERE rendezvous'),
    ).toBeGreaterThan(1);
    // So more than one container served the shard at once (one per busy lane).
    expect(stack.host.status().functions.validator?.coldStarts).toBeGreaterThan(1);
  });
});
