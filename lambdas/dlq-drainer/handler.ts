/**
 * DLQ drainer Lambda: SQS batch in (rejections from the validator, failed-batch notices from
 * the Kinesis event source, and the MQTT topic rule's error messages); rows into sensor_errors / sensor_readings; partial batch
 * failures for messages that could not be landed. The work is in src/pipeline/drain-messages.ts.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { KinesisStreamReader } from '#adapters/kinesis/stream-reader.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readConfig, settings } from '#config/env.js';
import { createTelemetry, MetricUnit } from '#observability/telemetry.js';
import { drainMessages } from '#pipeline/drain-messages.js';
import { mqttDoor } from '#topology.js';

const config = readConfig(
  'dlq-drainer',
  z.object({
    PAYLOAD_CAP_BYTES: settings.payloadCapBytes,
    AWS_REGION: settings.region,
    KINESIS_ENDPOINT: settings.optionalUrl,
  }),
);
databaseSourceFromEnv(); // fail the cold start when no database is configured

const { logger, metrics } = createTelemetry('dlq-drainer');
const streamReader = new KinesisStreamReader(
  createKinesisClient({ region: config.AWS_REGION, endpoint: config.KINESIS_ENDPOINT }),
);

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.appendKeys({
    correlation_id: event.Records[0]?.messageId ?? context.awsRequestId,
    request_id: context.awsRequestId,
  });
  try {
    const store = new PostgresPipelineStore(await sharedPool());
    const outcome = await drainMessages(
      event.Records.map((r) => ({ messageId: r.messageId, body: r.body })),
      { store, streamReader, payloadCapBytes: config.PAYLOAD_CAP_BYTES, topicRule: mqttDoor },
    );
    metrics.addMetric('ErrorRowsLanded', MetricUnit.Count, outcome.errorsLanded);
    metrics.addMetric('ReadingsLandedFromNotices', MetricUnit.Count, outcome.readingsLanded);
    metrics.addMetric('FailureNoticesHandled', MetricUnit.Count, outcome.noticesHandled);
    metrics.addMetric('MessagesRetried', MetricUnit.Count, outcome.failedMessageIds.length);
    const log = outcome.problems.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('messages drained', {
      messages: event.Records.length,
      errorsLanded: outcome.errorsLanded,
      readingsLanded: outcome.readingsLanded,
      notices: outcome.noticesHandled,
      retried: outcome.failedMessageIds.length,
      problems: outcome.problems,
    });
    return { batchItemFailures: outcome.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  } catch (error) {
    logger.error('drain failed; every message will be retried', { error: error as Error });
    return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
