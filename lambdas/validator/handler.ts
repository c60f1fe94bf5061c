/**
 * Validator Lambda: Kinesis batch in; valid readings to PostgreSQL, rejections to the errors
 * queue; `batchItemFailures` for every record that is not durable yet. The work is in
 * src/pipeline/validate-batch.ts.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { z } from 'zod';
import { createSqsClient } from '#adapters/aws/clients.js';
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { SqsErrorQueue } from '#adapters/sqs/error-queue.js';
import { readConfig, settings } from '#config/env.js';
import { batchHandler } from '#observability/handler.js';
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
const errorQueue = new SqsErrorQueue(
  createSqsClient({ region: config.AWS_REGION, endpoint: config.SQS_ENDPOINT }),
  config.ERRORS_QUEUE_URL,
);

export const handler = batchHandler('validator', {
  correlationId: ({ Records: [first] }: KinesisStreamEvent) => first?.eventID,
  itemIds: (event) => event.Records.map((r) => r.kinesis.sequenceNumber),
  retriedMetric: 'RecordsRetried',
  run: async (event, { logger, count }) => {
    const store = new PostgresPipelineStore(await sharedPool());
    const payloadCapBytes = config.PAYLOAD_CAP_BYTES;
    const outcome = await validateBatch(event.Records.map(toPositionedRecord), { store, errorQueue, payloadCapBytes });
    const { received, stored, duplicates, rejected, rejectedByType, failedSequenceNumbers, problems } = outcome;
    count({
      RecordsReceived: received,
      ReadingsStored: stored,
      DuplicatesSkipped: duplicates,
      RecordsRejected: rejected,
    });
    const log = problems.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    const retried = failedSequenceNumbers.length;
    log('batch processed', { received, stored, duplicates, rejected: rejectedByType, retried, problems });
    return failedSequenceNumbers;
  },
});
