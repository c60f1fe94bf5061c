/**
 * The producer Lambda against a real Kinesis API (kinesalite, in process, on a free port):
 * the real handler module, loaded the way Lambda loads it (environment first, then import),
 * and every record read back from every shard.
 *
 * Partial PutRecords failures cannot be produced here (kinesalite never throttles); that part
 * is proven with a scripted `send` in test/unit/stream-writer.test.ts.
 */

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { sleep } from '#adapters/retry.js';
import { countOutcomes, type ExpectedOutcome, simulate } from '#domain/fleet.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '#domain/reading.js';
import { classifyRecord } from '#domain/validation.js';
import { freePort } from '../support/free-port.js';

/** kinesalite ships no types; this is the part of its API the test uses. */
type Kinesalite = (options: { createStreamMs: number }) => Server;
const kinesalite = createRequire(import.meta.url)('kinesalite') as Kinesalite;

type ProducerModule = typeof import('#lambdas/producer/handler.js');

const REGION = 'us-east-1';
let server: Server;
let endpoint: string;
let kinesis: KinesisClient;
let streamCounter = 0;

interface StoredRecord {
  readonly shardId: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

beforeAll(async () => {
  const port = await freePort();
  server = kinesalite({ createStreamMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  endpoint = `http://127.0.0.1:${port}`;
  kinesis = createKinesisClient({ region: REGION, endpoint });
});

afterAll(async () => {
  kinesis?.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function createStream(shardCount = 2): Promise<string> {
  const name = `producer_test_${++streamCounter}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
  for (let i = 0; i < 100; i++) {
    const { StreamDescriptionSummary } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await sleep(20);
  }
  throw new Error(`stream ${name} never became ACTIVE`);
}

/** A fresh container: environment set, handler module imported anew (config read at load). */
async function loadProducer(streamName: string | undefined): Promise<ProducerModule> {
  vi.resetModules();
  if (streamName === undefined) delete process.env.STREAM_NAME;
  else process.env.STREAM_NAME = streamName;
  process.env.KINESIS_ENDPOINT = endpoint;
  process.env.AWS_REGION = REGION;
  return import('#lambdas/producer/handler.js');
}

/** Every record of every shard, oldest first per shard. */
async function readAll(streamName: string): Promise<StoredRecord[]> {
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const out: StoredRecord[] = [];
  for (const shard of Shards) {
    const shardId = shard.ShardId ?? '';
    let { ShardIterator: iterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records)
        out.push({ shardId, partitionKey: r.PartitionKey ?? '', data: r.Data ?? new Uint8Array() });
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

const key = (r: { partitionKey: string; data: Uint8Array }) =>
  `${r.partitionKey} ${Buffer.from(r.data).toString('base64')}`;

function classify(r: StoredRecord): ExpectedOutcome {
  const c = classifyRecord(
    r.data,
    { streamName: 's', shardId: r.shardId, sequenceNumber: '1', partitionKey: r.partitionKey, arrivalTime: new Date() },
    { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now: new Date() },
  );
  return c.kind === 'reading' ? 'valid' : (c.error.errorType as ExpectedOutcome);
}

const everyFault = {
  INACTIVE_SENSOR: 0.2,
  BELOW_MIN: 0.1,
  ABOVE_MAX: 0.1,
  NULL_VALUE: 0.1,
  JSON_PARSE_ERROR: 0.1,
  SCHEMA_ERROR: 0.1,
};

describe('producer handler against kinesalite', () => {
  it('writes every record (over several 500-record calls) with the sensor as partition key, and its counts match the validator', async () => {
    const stream = await createStream(2);
    const { handler } = await loadProducer(stream);
    const event = {
      count: 1_234,
      sensors: 20,
      seed: 7,
      startTime: '2026-03-01T10:00:00Z',
      intervalMs: 5_000,
      rates: everyFault,
    };
    const result = await handler(event, { awsRequestId: 'test-1' });

    expect(result).toMatchObject({
      streamName: stream,
      sent: 1_234,
      failed: 0,
      sensors: 20,
      seed: 7,
      count: 1_234,
      failedRecords: [],
    });
    expect(result.putRecordsCalls).toBe(3);
    expect(Object.values(result.notSent).every((n) => n === 0)).toBe(true);

    const stored = await readAll(stream);
    expect(stored).toHaveLength(1_234);

    // Content: exactly the simulated records, byte for byte, each once.
    const simulated = simulate({ ...event, startTime: new Date(event.startTime) }).records;
    expect(stored.map(key).sort()).toEqual(simulated.map(key).sort());

    // What the pipeline will make of the stream equals what the producer announced.
    expect(countOutcomes(stored.map((r) => ({ expected: classify(r) })))).toEqual(result.expected);
    for (const outcome of Object.keys(everyFault))
      expect(result.expected[outcome as ExpectedOutcome]).toBeGreaterThan(0);

    // Partition keys: the 20 sensors, each on one shard only, and equal to the reading's sensor_id.
    const shardsBySensor = new Map<string, Set<string>>();
    for (const r of stored)
      shardsBySensor.set(r.partitionKey, (shardsBySensor.get(r.partitionKey) ?? new Set()).add(r.shardId));
    expect(shardsBySensor.size).toBe(20);
    for (const shards of shardsBySensor.values()) expect(shards.size).toBe(1);
    expect(new Set(stored.map((r) => r.shardId)).size).toBe(2);
    for (const r of stored) {
      if (classify(r) === 'valid') {
        expect((JSON.parse(Buffer.from(r.data).toString('utf8')) as { sensor_id: string }).sensor_id).toBe(
          r.partitionKey,
        );
      }
    }
  });

  it('uses sane defaults, reports the random seed and start time, and reproduces the same bytes from them', async () => {
    const first = await createStream(1);
    const before = Date.now();
    const a = await (await loadProducer(first)).handler({});
    const after = Date.now();
    expect(a).toMatchObject({ sent: 100, failed: 0, sensors: 50, count: 100, intervalMs: 2_000 });
    expect(a.rates).toMatchObject({ INACTIVE_SENSOR: 0.25, JSON_PARSE_ERROR: 0, SCHEMA_ERROR: 0 });
    expect(Number.isInteger(a.seed)).toBe(true);
    // 100 readings from 50 sensors are 2 rounds 2 s apart; the last one is stamped now, none later.
    expect(Date.parse(a.startTime) + 2_000).toBeGreaterThanOrEqual(before);
    expect(Date.parse(a.startTime) + 2_000).toBeLessThanOrEqual(after);

    const second = await createStream(1);
    const b = await (await loadProducer(second)).handler({ seed: a.seed, startTime: a.startTime });
    expect(b.expected).toEqual(a.expected);
    const [recordsA, recordsB] = await Promise.all([readAll(first), readAll(second)]);
    expect(recordsB.map(key)).toEqual(recordsA.map(key)); // one shard: same order too
  });

  it('fails loudly on a bad event, naming every bad field, and writes nothing', async () => {
    const stream = await createStream(1);
    const { handler } = await loadProducer(stream);
    const bad = { count: -1, sensorz: 3, seed: 1.5, startTime: '2026-03-01 10:00', rates: { BELOW_MIN: 2 } };
    const error = await handler(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    for (const field of ['count', 'sensorz', 'seed', 'startTime', 'rates.BELOW_MIN']) expect(message).toContain(field);
    await expect(handler({ rates: { NULL_VALUE: 0.9 } })).rejects.toThrow(/rates: .*add up to/);
    await expect(handler('100')).rejects.toThrow(/Invalid producer event/);
    expect(await readAll(stream)).toHaveLength(0);
  });

  it('refuses to start without STREAM_NAME, naming it', async () => {
    await expect(loadProducer(undefined)).rejects.toThrow(/Invalid configuration for producer: STREAM_NAME: required/);
  });

  it('reports records it could not write instead of claiming them sent', async () => {
    const { handler } = await loadProducer('no_such_stream');
    const result = await handler({ count: 3, sensors: 3, seed: 1 });
    expect(result.sent).toBe(0);
    expect(result.failed).toBe(3);
    expect(result.expected).toEqual(countOutcomes([]));
    expect(Object.values(result.notSent).reduce((x, y) => x + y, 0)).toBe(3);
    expect(result.failedRecords.map((f) => f.errorCode)).toEqual(Array(3).fill('ResourceNotFoundException'));
  });
});
