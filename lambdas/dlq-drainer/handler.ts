/**
 * DLQ drainer Lambda: SQS batch in (rejections from the validator, failed-batch notices from
 * the Kinesis event source, and the MQTT topic rule's error messages); rows into sensor_errors /
 * sensor_readings; partial batch failures for messages that could not be landed. The work is in src/pipeline/drain-messages.ts.
 */
import type { SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { KinesisStreamReader } from '#adapters/kinesis/stream-reader.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readConfig, settings } from '#config/env.js';
import { batchHandler } from '#observability/handler.js';
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
const streamReader = new KinesisStreamReader(
  createKinesisClient({ region: config.AWS_REGION, endpoint: config.KINESIS_ENDPOINT }),
);

export const handler = batchHandler('dlq-drainer', {
  correlationId: ({ Records: [first] }: SQSEvent) => first?.messageId,
  itemIds: (event) => event.Records.map((r) => r.messageId),
  retriedMetric: 'MessagesRetried',
  run: async (event, { logger, count }) => {
    const store = new PostgresPipelineStore(await sharedPool());
    const messages = event.Records.map((r) => ({ messageId: r.messageId, body: r.body }));
    const outcome = await drainMessages(messages, {
      store,
      streamReader,
      payloadCapBytes: config.PAYLOAD_CAP_BYTES,
      topicRule: mqttDoor,
    });
    const { errorsLanded, readingsLanded, noticesHandled: notices, failedMessageIds, problems } = outcome;
    count({ ErrorRowsLanded: errorsLanded, ReadingsLandedFromNotices: readingsLanded, FailureNoticesHandled: notices });
    const log = problems.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    const retried = failedMessageIds.length;
    log('messages drained', { messages: messages.length, errorsLanded, readingsLanded, notices, retried, problems });
    return failedMessageIds;
  },
});
