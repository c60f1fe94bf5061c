/**
 * Kafka bridge Lambda: a Kafka batch (Amazon MSK or self-managed Kafka event source) in; every
 * record's value, bytes unchanged, into the Kinesis stream, its Kafka origin in the partition
 * key; `batchItemFailures` for every record the stream did not confirm. Thin on purpose: the
 * work is in src/pipeline/bridge-kafka-batch.ts.
 */
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import { type KafkaEvent, kafkaRecordsOf } from '#adapters/lambda/kafka-event.js';
import { readConfig, settings } from '#config/env.js';
import { kafkaItemIdentifier } from '#domain/kafka-record.js';
import { createTelemetry, MetricUnit } from '#observability/telemetry.js';
import { bridgeKafkaBatch } from '#pipeline/bridge-kafka-batch.js';

const config = readConfig(
  'kafka-bridge',
  z.object({
    STREAM_NAME: settings.name,
    AWS_REGION: settings.region,
    KINESIS_ENDPOINT: settings.optionalUrl,
  }),
);

const { logger, metrics } = createTelemetry('kafka-bridge');
const stream = new KinesisStreamWriter(
  createKinesisClient({ region: config.AWS_REGION, endpoint: config.KINESIS_ENDPOINT }),
  config.STREAM_NAME,
);

/** Failures listed one by one in the log; the rest are only counted. */
const MAX_LOGGED_FAILURES = 10;

export interface KafkaBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export const handler = async (event: KafkaEvent, context: Context): Promise<KafkaBatchResponse> => {
  const records = kafkaRecordsOf(event);
  const first = records[0];
  logger.appendKeys({
    correlation_id: first ? kafkaItemIdentifier(first) : context.awsRequestId,
    request_id: context.awsRequestId,
  });
  try {
    const outcome = await bridgeKafkaBatch(records, { stream });
    metrics.addMetric('KafkaRecordsReceived', MetricUnit.Count, outcome.received);
    metrics.addMetric('KafkaRecordsForwarded', MetricUnit.Count, outcome.forwarded);
    metrics.addMetric('KafkaRecordsRetried', MetricUnit.Count, outcome.failed.length);
    const log = outcome.failed.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('kafka batch bridged', {
      received: outcome.received,
      forwarded: outcome.forwarded,
      retried: outcome.failed.length,
      putRecordsCalls: outcome.putRecordsCalls,
      failures: outcome.failed.slice(0, MAX_LOGGED_FAILURES).map((f) => ({ item: f.itemIdentifier, reason: f.reason })),
    });
    return { batchItemFailures: outcome.failed.map((f) => ({ itemIdentifier: f.itemIdentifier })) };
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
