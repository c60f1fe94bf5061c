/**
 * The Kafka door's test helpers: Lambda Kafka events shaped exactly as Amazon MSK and
 * self-managed Kafka event sources deliver them, and reading a whole Kinesis stream back.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import type { MSKEvent } from 'aws-lambda';

export interface KafkaRecordSpec {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp?: number;
  /** null: a null key (the field is absent, as AWS sends it). */
  readonly key?: Uint8Array | string | null;
  /** null: a null value (tombstone). */
  readonly value: Uint8Array | string | null;
  readonly headers?: Readonly<Record<string, string | Uint8Array>>;
}

const bytes = (v: Uint8Array | string): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));

/** An `aws:kafka` event: records grouped under "topic-partition" keys, in the order given. */
export function mskEvent(records: readonly KafkaRecordSpec[]): MSKEvent {
  const grouped: MSKEvent['records'] = {};
  for (const r of records) {
    const group = `${r.topic}-${r.partition}`;
    const record: Record<string, unknown> = {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp ?? 1_764_460_800_000 + r.offset,
      timestampType: 'CREATE_TIME',
      headers: Object.entries(r.headers ?? {}).map(([k, v]) => ({ [k]: [...bytes(v)] })),
    };
    if (r.key !== undefined && r.key !== null) record.key = bytes(r.key).toString('base64');
    if (r.value !== null) record.value = bytes(r.value).toString('base64');
    grouped[group] ??= [];
    grouped[group].push(record as unknown as MSKEvent['records'][string][number]);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/iot/abcd1234-ab12-cd34-ef56-1234567890ab-1',
    bootstrapServers: 'b-1.iot.abcd12.c2.kafka.us-east-1.amazonaws.com:9098',
    records: grouped,
  };
}

export interface ReadBackRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** Every record of every shard of a stream, from the start. */
export async function readWholeStream(kinesis: KinesisClient, streamName: string): Promise<ReadBackRecord[]> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const all: ReadBackRecord[] = [];
  for (const shard of shards) {
    const shardId = shard.ShardId as string;
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    while (iterator) {
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of out.Records ?? []) {
        all.push({
          shardId,
          sequenceNumber: r.SequenceNumber as string,
          partitionKey: r.PartitionKey as string,
          data: r.Data ?? new Uint8Array(),
        });
      }
      if ((out.Records ?? []).length === 0) break;
      iterator = out.NextShardIterator;
    }
  }
  return all;
}
