/**
 * Kafka bridge Lambda: a Kafka batch (Amazon MSK or self-managed Kafka event source) in; every
 * record's value, bytes unchanged, into the Kinesis stream, its Kafka origin in the partition
 * key; `batchItemFailures` (`<topic>-<partition>-<offset>`) for every record the stream did not
 * confirm. The work is in src/pipeline/bridge-kafka-batch.ts.
 */
import { z } from 'zod';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import { type KafkaEvent, kafkaRecordsOf } from '#adapters/lambda/kafka-event.js';
import { readConfig, settings } from '#config/env.js';
import { kafkaItemIdentifier } from '#domain/kafka-record.js';
import { batchHandler } from '#observability/handler.js';
import { bridgeKafkaBatch } from '#pipeline/bridge-kafka-batch.js';

const config = readConfig(
  'kafka-bridge',
  z.object({
    STREAM_NAME: settings.name,
    AWS_REGION: settings.region,
    KINESIS_ENDPOINT: settings.optionalUrl,
  }),
);
const stream = new KinesisStreamWriter(
  createKinesisClient({ region: config.AWS_REGION, endpoint: config.KINESIS_ENDPOINT }),
  config.STREAM_NAME,
);

/** Failures listed one by one in the log; the rest are only counted. */
const MAX_LOGGED_FAILURES = 10;

export const handler = batchHandler<KafkaEvent>('kafka-bridge', {
  correlationId: (event) => {
    const first = kafkaRecordsOf(event)[0];
    return first ? kafkaItemIdentifier(first) : undefined;
  },
  itemIds: (event) => kafkaRecordsOf(event).map(kafkaItemIdentifier),
  retriedMetric: 'KafkaRecordsRetried',
  run: async (event, { logger, count }) => {
    const outcome = await bridgeKafkaBatch(kafkaRecordsOf(event), { stream });
    count({ KafkaRecordsReceived: outcome.received, KafkaRecordsForwarded: outcome.forwarded });
    const log = outcome.failed.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('kafka batch bridged', {
      received: outcome.received,
      forwarded: outcome.forwarded,
      retried: outcome.failed.length,
      putRecordsCalls: outcome.putRecordsCalls,
      failures: outcome.failed.slice(0, MAX_LOGGED_FAILURES).map((f) => ({ item: f.itemIdentifier, reason: f.reason })),
    });
    return outcome.failed.map((f) => f.itemIdentifier);
  },
});
