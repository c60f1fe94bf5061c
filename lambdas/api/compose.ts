/**
 * Wires the query API: PostgreSQL adapters, the use cases and the Hono app. Shared by the Lambda
 * handler (beside it) and the local Node server of `npm start`, so both serve the same app.
 */
import type { Hono } from 'hono';
import type pg from 'pg';
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
