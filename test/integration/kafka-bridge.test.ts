/**
 * The Kafka bridge handler with AWS-shaped Kafka events (several topic-partitions, headers,
 * null keys and values, empty values, bytes that are not UTF-8) against a real Kinesis API
 * (kinesalite) and real PostgreSQL: every value reaches the stream unchanged, on the shard its
 * grouping key picks, carrying its Kafka origin, and lands as exactly one row per Kafka record
 * even when forwarded twice.
 */
import { ListShardsCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { MSKEvent } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { explicitHashKey, groupingKey, parseOriginPartitionKey } from '#domain/kafka-record.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '#domain/reading.js';
import { validateBatch } from '#pipeline/validate-batch.js';
import { createTestDatabase } from '../support/database.js';
import { type RunningKinesis, startKinesis } from '../support/emulators.js';
import { aReading, lambdaContext } from '../support/factories.js';
import { type KafkaRecordSpec, mskEvent, type ReadBackRecord, readWholeStream } from '../support/kafka-events.js';

type BridgeModule = typeof import('#lambdas/kafka-bridge/handler.js');

let kinesis: RunningKinesis;
let db: pg.Pool;
let streamCounter = 0;

beforeAll(async () => {
  kinesis = await startKinesis();
  db = new pg.Pool({ connectionString: await createTestDatabase('kafka_bridge'), max: 2 });
  Object.assign(process.env, {
    KINESIS_ENDPOINT: kinesis.endpoint,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
});

afterAll(async () => {
  await db?.end();
  await kinesis?.stop();
});

/** A fresh container of the bridge writing to `streamName` (configuration is read at load). */
async function loadBridge(streamName: string): Promise<BridgeModule['handler']> {
  vi.resetModules();
  process.env.STREAM_NAME = streamName;
  return (await import('#lambdas/kafka-bridge/handler.js')).handler;
}

async function newStream(shards = 4): Promise<string> {
  const name = `kafka_bridge_${++streamCounter}`;
  await kinesis.createStream(name, shards);
  return name;
}

/** The shard whose hash range holds `hashKey`. */
async function shardFor(streamName: string, hashKey: string): Promise<string> {
  const shards = (await kinesis.client.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const h = BigInt(hashKey);
  const shard = shards.find(
    (s) => BigInt(s.HashKeyRange?.StartingHashKey ?? -1) <= h && h <= BigInt(s.HashKeyRange?.EndingHashKey ?? -1),
  );
  return shard?.ShardId as string;
}

const notUtf8 = Uint8Array.from([0xc3, 0x28, 0xff, 0x00, 0xfe]);

function mixedRecords(): KafkaRecordSpec[] {
  const reading = (sensor: string, value: number) => JSON.stringify(aReading({ sensor_id: sensor, value }));
  return [
    { topic: 'iot_sensor_data', partition: 0, offset: 10, key: 'sensor-a', value: reading('sensor-a', 20) },
    { topic: 'iot_sensor_data', partition: 0, offset: 11, key: null, value: reading('sensor-b', 21) },
    { topic: 'iot_sensor_data', partition: 0, offset: 12, key: null, value: '' },
    { topic: 'iot_sensor_data', partition: 1, offset: 7, key: null, value: null },
    { topic: 'iot_sensor_data', partition: 1, offset: 8, key: 'sensor-c', value: notUtf8, headers: { trace: 'x1' } },
    {
      topic: 'legacy.readings',
      partition: 3,
      offset: 0,
      key: Uint8Array.from([0x01, 0xff]),
      value: reading('sensor-d', 22),
      headers: { 'content-type': 'application/json', bin: Uint8Array.from([0, 1, 2]) },
    },
    { topic: 'legacy.readings', partition: 3, offset: 1, key: 'sensor-a', value: '{"not":"a reading"' },
  ];
}

function valueBytes(spec: KafkaRecordSpec): Buffer {
  if (spec.value === null) return Buffer.alloc(0);
  return typeof spec.value === 'string' ? Buffer.from(spec.value, 'utf8') : Buffer.from(spec.value);
}

function keyBytes(spec: KafkaRecordSpec): Uint8Array | undefined {
  if (spec.key === undefined || spec.key === null) return undefined;
  return typeof spec.key === 'string' ? Buffer.from(spec.key, 'utf8') : spec.key;
}

describe('kafka bridge handler', () => {
  it('forwards every value unchanged, its origin in the partition key, on the shard of its grouping key', async () => {
    const streamName = await newStream();
    const handler = await loadBridge(streamName);
    const specs = mixedRecords();
    const response = await handler(mskEvent(specs), lambdaContext('iot-kafka-bridge'));
    expect(response.batchItemFailures).toEqual([]);

    const stored = await readWholeStream(kinesis.client, streamName);
    expect(stored).toHaveLength(specs.length);
    for (const spec of specs) {
      const origin = { topic: spec.topic, partition: spec.partition, offset: String(spec.offset) };
      const found = stored.filter((r) => {
        const o = parseOriginPartitionKey(r.partitionKey);
        return o?.topic === origin.topic && o.partition === origin.partition && o.offset === origin.offset;
      });
      expect(found, `${origin.topic}-${origin.partition}-${origin.offset}`).toHaveLength(1);
      const record = found[0] as ReadBackRecord;
      expect(Buffer.from(record.data).equals(valueBytes(spec))).toBe(true);
      expect(parseOriginPartitionKey(record.partitionKey)?.timestamp).toBe(1_764_460_800_000 + spec.offset);
      const group = groupingKey({ ...spec, key: keyBytes(spec), value: valueBytes(spec) });
      expect(record.shardId).toBe(await shardFor(streamName, explicitHashKey(group)));
    }
  });

  it('puts a keyed Kafka reading on the shard of a producer reading with that sensor id as partition key', async () => {
    const streamName = await newStream();
    const handler = await loadBridge(streamName);
    const sensors = Array.from({ length: 12 }, (_, i) => `sensor-${i}`);
    await handler(
      mskEvent(
        sensors.map((s, i) => ({
          topic: 't',
          partition: 0,
          offset: i,
          key: s,
          value: JSON.stringify(aReading({ sensor_id: s })),
        })),
      ),
      lambdaContext(),
    );
    const stored = await readWholeStream(kinesis.client, streamName);
    for (const sensor of sensors) {
      const direct = await kinesis.client.send(
        new PutRecordCommand({ StreamName: streamName, PartitionKey: sensor, Data: Buffer.from('probe') }),
      );
      const bridged = stored.find((r) => Buffer.from(r.data).toString().includes(`"${sensor}"`));
      expect(bridged?.shardId, sensor).toBe(direct.ShardId);
    }
    expect(new Set(stored.map((r) => r.shardId)).size).toBeGreaterThan(1);
  });

  it('chunks a large batch into PutRecords calls within 500 records and 5 MiB, keeping each partition in order', async () => {
    const streamName = await newStream(2);
    const handler = await loadBridge(streamName);
    const filler = 'x'.repeat(6_000);
    const specs = Array.from({ length: 1_500 }, (_, i) => ({
      topic: 'bulk',
      partition: i % 3,
      offset: Math.floor(i / 3),
      key: null,
      value: JSON.stringify({ n: i, filler }),
    }));
    const response = await handler(mskEvent(specs), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    const stored = await readWholeStream(kinesis.client, streamName);
    expect(stored).toHaveLength(specs.length);
    // No key, no sensor id: a partition's records share a shard and keep their Kafka order there.
    for (const partition of [0, 1, 2]) {
      const offsets = stored
        .map((r) => parseOriginPartitionKey(r.partitionKey))
        .filter((o) => o?.partition === partition)
        .map((o) => Number(o?.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      expect(offsets).toHaveLength(500);
    }
  });

  it('reports every record it could not forward as <topic>-<partition>-<offset> when the stream is unavailable', async () => {
    const handler = await loadBridge('no_such_stream');
    const specs = mixedRecords();
    const response = await handler(mskEvent(specs), lambdaContext());
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      specs.map((s) => `${s.topic}-${s.partition}-${s.offset}`).sort(),
    );
  });

  it('fails only a record too large for Kinesis; its neighbours are forwarded', async () => {
    const streamName = await newStream(1);
    const handler = await loadBridge(streamName);
    const response = await handler(
      mskEvent([
        { topic: 't', partition: 0, offset: 1, value: '{"a":1}' },
        { topic: 't', partition: 0, offset: 2, value: Buffer.alloc(1024 * 1024, 0x41) },
        { topic: 't', partition: 0, offset: 3, value: '{"a":3}' },
      ]),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 't-0-2' }]);
    expect((await readWholeStream(kinesis.client, streamName)).map((r) => Buffer.from(r.data).toString())).toEqual([
      '{"a":1}',
      '{"a":3}',
    ]);
  });

  it('lands one row per Kafka record, with its origin, even when the records were forwarded twice', async () => {
    const streamName = await newStream(2);
    const handler = await loadBridge(streamName);
    const specs = mixedRecords();
    const event: MSKEvent = mskEvent(specs);
    await handler(event, lambdaContext());
    await handler(event, lambdaContext()); // the event source redelivers the whole batch
    const stored = await readWholeStream(kinesis.client, streamName);
    expect(stored).toHaveLength(2 * specs.length);

    const store = new PostgresPipelineStore(db);
    // The drainer's write, in process: the rejections go straight to sensor_errors here.
    const errorQueue = {
      send: async (errors: Parameters<typeof store.insertErrors>[0]) => {
        await store.insertErrors(errors);
        return { unsent: [] };
      },
    };
    const toStreamRecord = (r: ReadBackRecord) => ({
      data: r.data,
      position: {
        streamName,
        shardId: r.shardId,
        sequenceNumber: r.sequenceNumber,
        partitionKey: r.partitionKey,
        arrivalTime: new Date(),
      },
    });
    const outcome = await validateBatch(stored.map(toStreamRecord), {
      store,
      errorQueue,
      payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES,
    });
    expect(outcome.failedSequenceNumbers).toEqual([]);

    const origins = await db.query<{
      row_kind: string;
      topic: string;
      kafka_partition: number;
      kafka_offset: string;
      kafka_timestamp: Date;
      error_type: string | null;
    }>(
      `SELECT row_kind, topic, kafka_partition, kafka_offset, kafka_timestamp, error_type
       FROM kafka_record_origins WHERE stream_name = $1 ORDER BY topic, kafka_partition, kafka_offset`,
      [streamName],
    );
    expect(origins.rows.map((r) => `${r.topic}-${r.kafka_partition}-${r.kafka_offset}`)).toEqual(
      specs.map((s) => `${s.topic}-${s.partition}-${s.offset}`).sort(),
    );
    for (const row of origins.rows) {
      expect(row.kafka_timestamp.getTime()).toBe(1_764_460_800_000 + Number(row.kafka_offset));
    }
    const kinds = Object.fromEntries(
      origins.rows.map((r) => [`${r.topic}-${r.kafka_partition}-${r.kafka_offset}`, r.error_type ?? r.row_kind]),
    );
    expect(kinds).toEqual({
      'iot_sensor_data-0-10': 'reading',
      'iot_sensor_data-0-11': 'reading',
      'iot_sensor_data-0-12': 'JSON_PARSE_ERROR',
      'iot_sensor_data-1-7': 'JSON_PARSE_ERROR',
      'iot_sensor_data-1-8': 'JSON_PARSE_ERROR',
      'legacy.readings-3-0': 'reading',
      'legacy.readings-3-1': 'JSON_PARSE_ERROR',
    });
    const stray = await db.query('SELECT count(*)::int AS n FROM kafka_record_origins WHERE stream_name <> $1', [
      streamName,
    ]);
    expect(stray.rows[0].n).toBe(0);
  });
});
