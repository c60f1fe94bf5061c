/**
 * The notice a Kafka event source mapping (Amazon MSK or self-managed) sends to its SQS
 * on-failure destination when the Kafka bridge gives up on a batch: it names a topic-partition
 * and an offset range, not the records. Those records were never forwarded to the stream, so
 * the drainer cannot read them back as it does for a Kinesis notice; they are still in the
 * Kafka topic until its retention ends. The drainer lands one PROCESSING_FAILURE row per notice
 * that says so and where to replay from, so a give-up is visible in `sensor_errors` and the API
 * instead of only in the failures queue.
 */
import { z } from 'zod';
import type { ErrorRecord } from './reading.js';

const offset = z.union([z.string().regex(/^\d{1,19}$/), z.number().int().nonnegative()]).transform(String);

const kafkaFailureNoticeSchema = z.object({
  requestContext: z.object({ condition: z.string().optional() }).optional(),
  KafkaBatchInfo: z.object({
    batchSize: z.number().int().nonnegative(),
    topic: z.string().min(1).max(249),
    partition: z.number().int().nonnegative(),
    firstRecordOffset: offset,
    lastRecordOffset: offset,
    bootstrapServers: z.string().optional(),
    consumerGroupId: z.string().optional(),
  }),
});

export interface KafkaFailureNotice {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: string;
  readonly lastOffset: string;
  readonly batchSize: number;
  /** Why the event source gave up (RetryAttemptsExhausted, RecordAgeExceeded, …). */
  readonly condition: string;
  readonly consumerGroupId: string | undefined;
}

export function isKafkaFailureNotice(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'KafkaBatchInfo' in body;
}

export function parseKafkaFailureNotice(body: unknown): KafkaFailureNotice {
  const n = kafkaFailureNoticeSchema.parse(body);
  const info = n.KafkaBatchInfo;
  return {
    topic: info.topic,
    partition: info.partition,
    firstOffset: info.firstRecordOffset,
    lastOffset: info.lastRecordOffset,
    batchSize: info.batchSize,
    condition: n.requestContext?.condition ?? 'unknown',
    consumerGroupId: info.consumerGroupId,
  };
}

/**
 * The row that stands for the given-up range. Its key names the range (`kafka:<topic>`,
 * `<topic>-<partition>`, `<first>..<last>`), so a redelivered notice adds nothing. The partition
 * key stays null: a `kafka:` key would claim the first record's origin, and the unique origin
 * index would then refuse that record when it is replayed.
 */
export function kafkaNoticeErrorRecord(notice: KafkaFailureNotice, now: Date): ErrorRecord {
  const range = `${notice.topic}-${notice.partition}`;
  const group = notice.consumerGroupId ? ` by consumer group ${notice.consumerGroupId}` : '';
  return {
    errorType: 'PROCESSING_FAILURE',
    errorMessage:
      `the Kafka event source gave up on ${notice.batchSize} record(s) of ${range} ` +
      `(offsets ${notice.firstOffset}..${notice.lastOffset}, ${notice.condition})${group}; they were not ` +
      `forwarded to the stream and stay in the topic until its retention ends: replay them from offset ${notice.firstOffset}`,
    rawBytes: new Uint8Array(),
    rawSize: 0,
    sensorId: null,
    readingId: null,
    position: {
      streamName: `kafka:${notice.topic}`,
      shardId: range,
      sequenceNumber: `${notice.firstOffset}..${notice.lastOffset}`,
      partitionKey: null,
      arrivalTime: null,
    },
    errorTime: now,
  };
}
