/**
 * Wires the query API: PostgreSQL adapters, the use cases and the Hono app. Shared by the Lambda
 * handler (beside it) and the local Node server of `npm start`, so both serve the same app.
 */
import type { Hono } from 'hono';
import type pg from 'pg';
import { createCloudWatchClient, createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';
import { AwsPipelineGauges } from '#adapters/aws/pipeline-gauges.js';
import { createApiApp, type StaticAsset } from '#adapters/http/app.js';
import { PostgresQueryStore } from '#adapters/postgres/query-store.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import type { ApiSettings } from '#config/api.js';
import type { PipelineGauges } from '#domain/query-ports.js';
import { tokenApi } from '#pipeline/api-tokens.js';
import { QueryService } from '#pipeline/query-api.js';

export interface ComposeOptions {
  readonly pool: pg.Pool;
  readonly settings: ApiSettings;
  readonly gauges?: PipelineGauges | undefined;
  readonly staticAssets?: ReadonlyMap<string, StaticAsset> | undefined;
  readonly log?: ((entry: Record<string, unknown>) => void) | undefined;
}

export function composeApi(options: ComposeOptions): Hono {
  const s = options.settings;
  const queries = new QueryService(
    new PostgresQueryStore(options.pool),
    {
      thresholds: {
        staleAfterSeconds: s.STATUS_STALE_AFTER_SECONDS,
        offlineAfterSeconds: s.STATUS_OFFLINE_AFTER_SECONDS,
      },
      aggregatorLateAfterSeconds: s.AGGREGATOR_LATE_AFTER_SECONDS,
      dqLateAfterSeconds: s.DQ_LATE_AFTER_SECONDS,
      streamLateAfterSeconds: s.STREAM_LATE_AFTER_SECONDS,
      queueLateAfterMessages: s.QUEUE_LATE_AFTER_MESSAGES,
    },
    options.gauges,
  );
  return createApiApp({
    queries,
    tokens: tokenApi(new PostgresTokenStore(options.pool), { cacheMs: s.TOKEN_CACHE_MS }),
    staticAssets: options.staticAssets,
    shareMs: s.API_SHARE_REPLIES_MS,
    log: options.log,
  });
}

/**
 * The health gauges from the stack's settings: only the clients whose sources are named are
 * made, so an older stack without them still serves health (with null gauges).
 */
export function awsGauges(s: ApiSettings): PipelineGauges {
  const queues = [
    { url: s.ERRORS_QUEUE_URL, dlq: false },
    { url: s.FAILURES_QUEUE_URL, dlq: false },
    { url: s.ERRORS_DLQ_URL, dlq: true },
    { url: s.FAILURES_DLQ_URL, dlq: true },
  ].flatMap(({ url, dlq }) => (url ? [{ url, dlq }] : []));
  const region = s.AWS_REGION;
  return new AwsPipelineGauges(
    { streamName: s.STREAM_NAME, validatorFunctionName: s.VALIDATOR_FUNCTION_NAME, queues },
    {
      sqs: queues.length > 0 ? createSqsClient({ region, endpoint: s.SQS_ENDPOINT }) : undefined,
      kinesis: s.STREAM_NAME ? createKinesisClient({ region, endpoint: s.KINESIS_ENDPOINT }) : undefined,
      cloudWatch: s.VALIDATOR_FUNCTION_NAME
        ? createCloudWatchClient({ region, endpoint: s.CLOUDWATCH_ENDPOINT })
        : undefined,
    },
  );
}
