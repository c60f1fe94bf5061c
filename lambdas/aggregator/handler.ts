/**
 * Aggregator Lambda, run by an EventBridge schedule: recomputes every 1-minute window that
 * received readings since the last run (late ones included) and returns a summary. The
 * correctness argument lives in src/adapters/postgres/aggregation-store.ts.
 */
import type { ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readConfig, settings } from '#config/env.js';
import { instrumentedHandler } from '#observability/handler.js';
import { aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';

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

export const handler = instrumentedHandler('aggregator', {
  correlationId: (event: Partial<ScheduledEvent> | undefined) => event?.id,
  run: async (_event, { logger, count, context }) => {
    const started = Date.now();
    const summary = await aggregateMarkedWindows(
      new PostgresAggregationStore(await sharedPool(), {
        alertConsecutiveReadings: config.ALERT_CONSECUTIVE_READINGS,
      }),
      {
        chunkSize: config.AGGREGATION_CHUNK_WINDOWS,
        remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY, // no deadline when called directly
        reserveMs: config.AGGREGATION_RESERVE_MS,
      },
    );
    const { windowsRecomputed, readingsCovered, backlogLeft } = summary;
    count({
      WindowsRecomputed: windowsRecomputed,
      ReadingsCovered: readingsCovered,
      AggregationBacklogLeft: +backlogLeft,
    });
    logger.info('windows recomputed', { ...summary, durationMs: Date.now() - started });
    return summary;
  },
});
