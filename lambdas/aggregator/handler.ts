/**
 * Aggregator Lambda, run by an EventBridge schedule: recomputes every 1-minute window that
 * received readings since the last run (late ones included), opening and closing reading alerts
 * in the same transactions; then, once those have committed, publishes the alert events not
 * published yet to the alert topic (src/pipeline/publish-alerts.ts), and returns a summary. The
 * windows' correctness argument lives in src/adapters/postgres/aggregation-store.ts.
 */
import type { ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { createSnsClient } from '#adapters/aws/clients.js';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { PostgresAlertOutbox } from '#adapters/postgres/alert-outbox.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { SnsAlertPublisher } from '#adapters/sns/alert-publisher.js';
import { readConfig, settings } from '#config/env.js';
import { instrumentedHandler } from '#observability/handler.js';
import { aggregateMarkedWindows } from '#pipeline/aggregate-windows.js';
import { publishAlertEvents } from '#pipeline/publish-alerts.js';

const config = readConfig(
  'aggregator',
  z.object({
    AGGREGATION_CHUNK_WINDOWS: settings.positiveInt(20_000),
    /** Time kept back from the Lambda timeout to finish the current chunk and report. */
    AGGREGATION_RESERVE_MS: settings.positiveInt(15_000),
    /** Consecutive readings at or beyond an alert level that open a reading alert (README, Alerts). */
    ALERT_CONSECUTIVE_READINGS: settings.positiveInt(3),
    /**
     * The alert topic reading alerts are published to (set by the CDK stack and by `npm start`).
     * Unset, alerts stay in the database (API, dashboard) and the cold start says so.
     */
    ALERT_TOPIC_ARN: settings.topicArn.optional(),
    /** An emulator's SNS endpoint (locally fauxqs serves SNS beside SQS); unset on AWS. */
    SNS_ENDPOINT: settings.optionalUrl,
  }),
);
databaseSourceFromEnv(); // fail the cold start when no database is configured

/** The topic's client is made for the topic's own region, whatever region the function runs in. */
const alertPublisher = config.ALERT_TOPIC_ARN
  ? new SnsAlertPublisher(
      createSnsClient({ region: config.ALERT_TOPIC_ARN.split(':')[3] ?? '', endpoint: config.SNS_ENDPOINT }),
      config.ALERT_TOPIC_ARN,
    )
  : undefined;

/**
 * Time a call to the topic needs at worst (src/adapters/sns/alert-publisher.ts: 2 attempts of a
 * 2 s connect and a 5 s request timeout, and the backoff between) plus a write of the marks: no
 * call starts with less left, so the run ends and counts its failures before Lambda's timeout.
 */
const PUBLISH_RESERVE_MS = 16_000;
let warnedNoTopic = false;

export const handler = instrumentedHandler('aggregator', {
  correlationId: (event: Partial<ScheduledEvent> | undefined) => event?.id,
  run: async (_event, { logger, count, context }) => {
    const started = Date.now();
    const pool = await sharedPool();
    const remainingMs = () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY; // no deadline when called directly
    const summary = await aggregateMarkedWindows(
      new PostgresAggregationStore(pool, { alertConsecutiveReadings: config.ALERT_CONSECUTIVE_READINGS }),
      { chunkSize: config.AGGREGATION_CHUNK_WINDOWS, remainingMs, reserveMs: config.AGGREGATION_RESERVE_MS },
    );
    const { windowsRecomputed, readingsCovered, backlogLeft } = summary;
    count({
      WindowsRecomputed: windowsRecomputed,
      ReadingsCovered: readingsCovered,
      AggregationBacklogLeft: +backlogLeft,
    });
    logger.info('windows recomputed', { ...summary, durationMs: Date.now() - started });
    if (!alertPublisher) {
      // Once per container: a deployment without the topic is visible in its logs, not silent.
      if (!warnedNoTopic) logger.warn('ALERT_TOPIC_ARN is not set: reading alerts stay in the database, unpublished');
      warnedNoTopic = true;
      return summary;
    }

    // After the commit: whatever happens here, the windows stand.
    const alerts = await publishAlertEvents(new PostgresAlertOutbox(pool), alertPublisher, {
      remainingMs,
      reserveMs: PUBLISH_RESERVE_MS,
    });
    count({ AlertsPublished: alerts.published, AlertPublishFailures: alerts.failures });
    if (alerts.problems.length > 0) logger.warn('reading alerts not published', { ...alerts });
    else if (alerts.published > 0) logger.info('reading alerts published', { published: alerts.published });
    return { ...summary, alertsPublished: alerts.published, alertPublishFailures: alerts.failures };
  },
});
