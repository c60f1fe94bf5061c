/**
 * Kafka records as the Kafka door sees them, and how their origin travels through the stream.
 *
 * The door forwards a Kafka record's value bytes unchanged, so its origin (topic, partition,
 * offset, timestamp) cannot ride in the payload. It rides in the Kinesis partition key instead,
 * `kafka:<topic>:<partition>:<offset>:<timestamp ms>`, which every row keeps. The shard is then
 * chosen by an `ExplicitHashKey`: the MD5 of the record's grouping key (the Kafka key, else the
 * sensor id, else the topic-partition), which is exactly the hash Kinesis computes for a
 * partition key. A sensor's Kafka readings therefore share a shard with each other and with the
 * readings the producer writes under the bare sensor id.
 *
 * Because the origin names one Kafka record, the database can also refuse a second row for it
 * (migration 1764220000000): a Kafka record forwarded twice, by a retried bridge or a restarted
 * consumer, lands once, even when it is not a valid reading and has no `reading_id`.
 */
import { createHash } from 'node:crypto';

/** One Kafka record, decoded from the Lambda event (or read by the local consumer). */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  /** Decimal text: Kafka offsets are 64-bit. */
  readonly offset: string;
  /** Epoch milliseconds (CreateTime or LogAppendTime, see `timestampType`). */
  readonly timestamp: number;
  readonly timestampType: string;
  /** Undefined for a null key. */
  readonly key: Uint8Array | undefined;
  /** Empty for a null value (a tombstone): it still becomes a row (a JSON_PARSE_ERROR). */
  readonly value: Uint8Array;
  readonly headers: readonly KafkaHeader[];
}

export interface KafkaHeader {
  readonly key: string;
  readonly value: Uint8Array;
}

/** The part of a record's origin its rows keep. */
export interface KafkaOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
}

export const KAFKA_KEY_PREFIX = 'kafka:';
/** Kinesis accepts partition keys of 1 to 256 Unicode characters. */
export const MAX_PARTITION_KEY_CHARS = 256;

/** Characters Kafka allows in a topic name (Kafka's `Topic.validate`): never a colon. */
const TOPIC_PATTERN = /^[A-Za-z0-9._-]+$/;
/** The same pattern as the database's kafka_origin() (migration 1764220000000). */
const ORIGIN_PATTERN = /^kafka:([A-Za-z0-9._~-]+):(\d{1,9}):(\d{1,18}):(-?\d{1,15})$/;

/**
 * A topic too long to fit the partition key (Kafka allows 249 characters) is cut and given a
 * hash of the whole name after `~`, so two long topics never share an origin. Topics that long
 * are rare; the README says so.
 */
function topicForKey(topic: string, budget: number): string {
  if (topic.length <= budget && TOPIC_PATTERN.test(topic)) return topic;
  const digest = createHash('sha256').update(topic, 'utf8').digest('hex').slice(0, 12);
  const head = topic.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, Math.max(0, budget - digest.length - 1));
  return `${head}~${digest}`;
}

/** The partition key that carries a record's origin: `kafka:<topic>:<partition>:<offset>:<timestamp>`. */
export function originPartitionKey(origin: KafkaOrigin): string {
  const tail = `:${origin.partition}:${origin.offset}:${Math.trunc(origin.timestamp)}`;
  const budget = MAX_PARTITION_KEY_CHARS - KAFKA_KEY_PREFIX.length - tail.length;
  return `${KAFKA_KEY_PREFIX}${topicForKey(origin.topic, budget)}${tail}`;
}

/**
 * The origin a partition key carries, or undefined for any other key (the producer's bare
 * sensor ids, the MQTT door's keys, or a malformed `kafka:` key written by someone else).
 */
export function parseOriginPartitionKey(partitionKey: string): KafkaOrigin | undefined {
  const m = ORIGIN_PATTERN.exec(partitionKey);
  if (!m) return undefined;
  const [, topic, partition, offset, timestamp] = m as unknown as [string, string, string, string, string];
  return { topic, partition: Number(partition), offset, timestamp: Number(timestamp) };
}

/** `<topic>-<partition>`, Kafka's own name for a partition and the key of the Lambda event's `records`. */
export function topicPartition(record: Pick<KafkaRecord, 'topic' | 'partition'>): string {
  return `${record.topic}-${record.partition}`;
}

/**
 * The `itemIdentifier` a Kafka event source expects in a partial batch response:
 * `<topic>-<partition>-<offset>`.
 */
export function kafkaItemIdentifier(record: Pick<KafkaRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${record.topic}-${record.partition}-${record.offset}`;
}

/** Values larger than this are not parsed for a sensor id: the shard choice is not worth the time. */
const MAX_PARSED_VALUE_BYTES = 64 * 1024;

function readableSensorId(value: Uint8Array): string | undefined {
  if (value.length === 0 || value.length > MAX_PARSED_VALUE_BYTES) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.length).toString('utf8'));
    const id = (parsed as { sensor_id?: unknown } | null)?.sensor_id;
    return typeof id === 'string' && id.length > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bytes that decide a record's shard: the Kafka key when present (Kafka producers key by
 * device), else the reading's sensor id when it can be read, else the topic-partition (which
 * keeps a Kafka partition's unreadable records together, in order).
 */
export function groupingKey(record: Pick<KafkaRecord, 'key' | 'value' | 'topic' | 'partition'>): Uint8Array {
  if (record.key !== undefined && record.key.length > 0) return record.key;
  const sensorId = readableSensorId(record.value);
  return Buffer.from(sensorId ?? topicPartition(record), 'utf8');
}

/** Kinesis's hash of a partition key (MD5 as an unsigned 128-bit decimal), for `ExplicitHashKey`. */
export function explicitHashKey(bytes: Uint8Array): string {
  return BigInt(`0x${createHash('md5').update(bytes).digest('hex')}`).toString(10);
}
