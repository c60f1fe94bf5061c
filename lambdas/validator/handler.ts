/**
 * Validator Lambda: Kinesis batch in; valid readings to PostgreSQL, rejections to the errors
 * queue; `batchItemFailures` for every record that is not durable yet. Thin on purpose: the
 * work is in src/pipeline/validate-batch.ts.
 */
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { z } from 'zod';
import { createSqsClient } from '#adapters/aws/clients.js';
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { SqsErrorQueue } from '#adapters/sqs/error-queue.js';
import { readConfig, settings } from '#config/env.js';
import { createTelemetry, MetricUnit } from '#observability/telemetry.js';
import { validateBatch } from '#pipeline/validate-batch.js';

const config = readConfig(
  'validator',
  z.object({
    ERRORS_QUEUE_URL: settings.url,
    PAYLOAD_CAP_BYTES: settings.payloadCapBytes,
    AWS_REGION: settings.region,
    SQS_ENDPOINT: settings.optionalUrl,
  }),
);
databaseSourceFromEnv(); // fail the cold start, not the first batch, when no database is configured

const { logger, metrics } = createTelemetry('validator');
const errorQueue = new SqsErrorQueue(
  createSqsClient({ region: config.AWS_REGION, endpoint: config.SQS_ENDPOINT }),
  config.ERRORS_QUEUE_URL,
);

export const handler = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  const records = event.Records.map(toPositionedRecord);
  const first = records[0]?.position;
  logger.appendKeys({
    correlation_id: first ? `${first.shardId}:${first.sequenceNumber}` : context.awsRequestId,
    request_id: context.awsRequestId,
  });
  try {
    const store = new PostgresPipelineStore(await sharedPool());
    const outcome = await validateBatch(records, { store, errorQueue, payloadCapBytes: config.PAYLOAD_CAP_BYTES });

    metrics.addMetric('RecordsReceived', MetricUnit.Count, outcome.received);
    metrics.addMetric('ReadingsStored', MetricUnit.Count, outcome.stored);
    metrics.addMetric('DuplicatesSkipped', MetricUnit.Count, outcome.duplicates);
    metrics.addMetric('RecordsRejected', MetricUnit.Count, outcome.rejected);
    metrics.addMetric('RecordsRetried', MetricUnit.Count, outcome.failedSequenceNumbers.length);
    const log = outcome.problems.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('batch processed', {
      received: outcome.received,
      stored: outcome.stored,
      duplicates: outcome.duplicates,
      rejected: outcome.rejectedByType,
      retried: outcome.failedSequenceNumbers.length,
      problems: outcome.problems,
    });
    return { batchItemFailures: outcome.failedSequenceNumbers.map((itemIdentifier) => ({ itemIdentifier })) };
  } catch (error) {
    // Reached only when the database cannot even be reached for a connection: retry it all.
    logger.error('batch failed; every record will be retried', { error: error as Error });
    metrics.addMetric('RecordsRetried', MetricUnit.Count, records.length);
    return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.position.sequenceNumber })) };
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
