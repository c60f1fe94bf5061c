/**
 * PROTOTYPE, measured by bench/ingest.ts; not deployed. The validator handler
 * (lambdas/validator/handler.ts) with one change: rejections go through
 * {@link PackedErrorQueue} (many per SQS message) instead of SqsErrorQueue (one per message).
 * Same configuration, same telemetry, same use case, so the measured difference is the queue.
 */
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { z } from 'zod';
import { createSqsClient } from '../../src/adapters/aws/clients.js';
import { toStreamRecord } from '../../src/adapters/lambda/kinesis-event.js';
import { PostgresPipelineStore } from '../../src/adapters/postgres/pipeline-store.js';
import { databaseSourceFromEnv, sharedPool } from '../../src/adapters/postgres/pool.js';
import { readConfig, settings } from '../../src/config/env.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '../../src/domain/reading.js';
import { createTelemetry, MetricUnit } from '../../src/observability/telemetry.js';
import { validateBatch } from '../../src/pipeline/validate-batch.js';
import { PackedErrorQueue } from './packed-error-queue.js';

const config = readConfig(
  'validator',
  z.object({
    ERRORS_QUEUE_URL: settings.url,
    PAYLOAD_CAP_BYTES: settings.positiveInt(DEFAULT_PAYLOAD_CAP_BYTES),
    AWS_REGION: settings.region,
    SQS_ENDPOINT: settings.optionalUrl,
  }),
);
databaseSourceFromEnv();

const { logger, metrics } = createTelemetry('validator');
const errorQueue = new PackedErrorQueue(createSqsClient({ region: config.AWS_REGION, endpoint: config.SQS_ENDPOINT }), config.ERRORS_QUEUE_URL);

export const handler = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  const records = event.Records.map(toStreamRecord);
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
    logger.error('batch failed; every record will be retried', { error: error as Error });
    metrics.addMetric('RecordsRetried', MetricUnit.Count, records.length);
    return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.position.sequenceNumber })) };
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
