/**
 * Aggregator Lambda, run by an EventBridge schedule: recomputes every 1-minute window that
 * received readings since the last run (late ones included) and returns a summary. The
 * correctness argument lives in src/adapters/postgres/aggregation-store.ts.
 */
import type { Context, ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readConfig, settings } from '#config/env.js';
import { createTelemetry, MetricUnit } from '#observability/telemetry.js';
import { type AggregationSummary, aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';

const config = readConfig(
  'aggregator',
  z.object({
    AGGREGATION_CHUNK_WINDOWS: settings.positiveInt(20_000),
    /** Time kept back from the Lambda timeout to finish the current chunk and report. */
    AGGREGATION_RESERVE_MS: settings.positiveInt(15_000),
    /** Consecutive readings at or beyond an alert level that open a reading alert (README, Alerts). */
    ALERT_CONSECUTIVE_READINGS: settings.positiveInt(3),
  }),
);
databaseSourceFromEnv(); // fail the cold start when no database is configured

const { logger, metrics } = createTelemetry('aggregator');

export const handler = async (
  event: Partial<ScheduledEvent> | undefined,
  context: Context,
): Promise<AggregationSummary> => {
  logger.appendKeys({ correlation_id: event?.id ?? context.awsRequestId, request_id: context.awsRequestId });
  try {
    const started = Date.now();
    const summary = await aggregateMarkedWindows(
      new PostgresAggregationStore(await sharedPool(), {
        alertConsecutiveReadings: config.ALERT_CONSECUTIVE_READINGS,
      }),
      {
        chunkSize: config.AGGREGATION_CHUNK_WINDOWS,
        remainingMs: () => context.getRemainingTimeInMillis(),
        reserveMs: config.AGGREGATION_RESERVE_MS,
      },
    );
    metrics.addMetric('WindowsRecomputed', MetricUnit.Count, summary.windowsRecomputed);
    metrics.addMetric('ReadingsCovered', MetricUnit.Count, summary.readingsCovered);
    metrics.addMetric('AggregationBacklogLeft', MetricUnit.Count, summary.backlogLeft ? 1 : 0);
    logger.info('windows recomputed', { ...summary, durationMs: Date.now() - started });
    return summary;
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
