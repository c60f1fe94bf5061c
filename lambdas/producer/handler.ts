/**
 * Producer Lambda: simulates the sensor fleet and writes its readings to the stream. The work
 * is in src/pipeline/produce-readings.ts; it answers with what it sent and what the pipeline
 * must make of it, and throws on an invalid event.
 */
import { z } from 'zod';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import { readConfig, settings } from '#config/env.js';
import { instrumentedHandler } from '#observability/handler.js';
import { planProduction, produceReadings } from '#pipeline/produce-readings.js';

const config = readConfig(
  'producer',
  z.object({
    STREAM_NAME: settings.name,
    AWS_REGION: settings.region,
    KINESIS_ENDPOINT: settings.optionalUrl,
  }),
);
const writer = new KinesisStreamWriter(
  createKinesisClient({ region: config.AWS_REGION, endpoint: config.KINESIS_ENDPOINT }),
  config.STREAM_NAME,
);

export const handler = instrumentedHandler('producer', {
  run: async (event: unknown, { logger, count, correlate }) => {
    const plan = planProduction(event);
    correlate(`producer:${plan.seed}:${plan.startTime}`);
    const result = await produceReadings(plan, { writer, streamName: config.STREAM_NAME });
    const { failedRecords, ...summary } = result;
    count({
      RecordsGenerated: result.sent + result.failed,
      RecordsSent: result.sent,
      RecordsFailed: result.failed,
      PutRecordsCalls: result.putRecordsCalls,
    });
    const log = result.failed > 0 ? logger.error.bind(logger) : logger.info.bind(logger);
    log('readings produced', { ...summary, firstFailures: failedRecords.slice(0, 5) });
    return result;
  },
});
