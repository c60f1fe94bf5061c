/**
 * The API's routes as data: path, parameters and reply schemas, the scope a token needs, and the
 * use case each calls. The Hono app (app.ts) serves this table and the OpenAPI document
 * (openapi.ts) is generated from it, so the two cannot disagree.
 */
import { z } from 'zod';
import {
  changesQuery,
  changesReply,
  createTokenBody,
  dqLatestReply,
  dqRunsQuery,
  dqRunsReply,
  errorsQuery,
  errorsReply,
  fleetQuery,
  fleetReply,
  healthReply,
  readingsQuery,
  readingsReply,
  sensorIdParam,
  sensorReply,
  tokenIdParam,
  tokenInfo,
  windowsQuery,
  windowsReply,
} from '#domain/api.js';
import type { QueryApi, TokenApi, TokenScope } from '#domain/query-ports.js';

export interface RouteInput {
  // biome-ignore lint/suspicious/noExplicitAny: each route's handler receives what its own schemas parsed
  readonly query: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly params: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly body: any;
}

export interface RouteDeps {
  readonly queries: QueryApi;
  readonly tokens: TokenApi;
}

export interface Route {
  readonly method: 'get' | 'post' | 'delete';
  /** OpenAPI form ({id}); the Hono form (:id) is derived. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly scope: TokenScope;
  readonly query?: z.ZodObject;
  readonly params?: z.ZodObject;
  readonly body?: z.ZodObject;
  readonly reply: z.ZodType;
  readonly status?: 200 | 201;
  /** Reply carries an ETag and honours If-None-Match with 304. */
  readonly etag?: boolean;
  /**
   * Identical requests within a short time (ApiAppOptions.shareMs) share one reply and one
   * database query: the routes every dashboard polls, so N pollers cost about one query per
   * interval, not N. Replies do not depend on the token, which is still checked on every request.
   */
  readonly shared?: boolean;
  readonly run: (deps: RouteDeps, input: RouteInput) => Promise<unknown>;
}

export const ROUTES: readonly Route[] = [
  {
    method: 'get',
    path: '/api/sensors',
    summary: 'The whole fleet: latest reading, status, rejections and open alerts per sensor',
    description:
      'Status from the age of the newest reading: ok up to thresholds.staleAfterSeconds, stale up to offlineAfterSeconds, offline beyond.',
    scope: 'read',
    query: fleetQuery,
    reply: fleetReply,
    shared: true,
    run: (d, i) => d.queries.fleet(i.query),
  },
  {
    method: 'get',
    path: '/api/sensors/{id}',
    summary: 'One sensor, with its recent alerts',
    scope: 'read',
    params: sensorIdParam,
    reply: sensorReply,
    run: (d, i) => d.queries.sensor(i.params.id),
  },
  {
    method: 'get',
    path: '/api/sensors/{id}/readings',
    summary: 'Raw readings, newest first, cursor pagination',
    scope: 'read',
    params: sensorIdParam,
    query: readingsQuery,
    reply: readingsReply,
    run: (d, i) => d.queries.readings(i.params.id, i.query),
  },
  {
    method: 'get',
    path: '/api/sensors/{id}/windows',
    summary: 'UTC-aligned windows rolled up from the 1-minute windows; empty buckets explicit',
    description:
      'The bucket holding the current minute is computed from raw readings and flagged partial. A range of more buckets than one reply carries is cut: truncated is true and nextCursor continues it.',
    scope: 'read',
    params: sensorIdParam,
    query: windowsQuery,
    reply: windowsReply,
    run: (d, i) => d.queries.windows(i.params.id, i.query),
  },
  {
    method: 'get',
    path: '/api/errors',
    summary: 'Rejected records counted by type per bucket, and the rows themselves (newest first)',
    scope: 'read',
    query: errorsQuery,
    reply: errorsReply,
    run: (d, i) => d.queries.errors(i.query),
  },
  {
    method: 'get',
    path: '/api/dq/runs',
    summary: 'Data-quality runs, newest first',
    scope: 'read',
    query: dqRunsQuery,
    reply: dqRunsReply,
    run: (d, i) => d.queries.dqRuns(i.query),
  },
  {
    method: 'get',
    path: '/api/dq/runs/latest',
    summary: 'The latest data-quality run with every check result (run is null before the first)',
    scope: 'read',
    reply: dqLatestReply,
    run: (d) => d.queries.dqLatest(),
  },
  {
    method: 'get',
    path: '/api/health',
    summary: 'Pipeline health: shard lag, queue depths, last aggregator and data-quality runs',
    scope: 'read',
    reply: healthReply,
    shared: true,
    run: (d) => d.queries.health(),
  },
  {
    method: 'get',
    path: '/api/changes',
    summary: 'What changed since a cursor, for polling; ETag and 304',
    scope: 'read',
    query: changesQuery,
    reply: changesReply,
    etag: true,
    shared: true,
    run: (d, i) => d.queries.changes(i.query.since),
  },
  {
    method: 'get',
    path: '/api/tokens',
    summary: 'API tokens (admin)',
    scope: 'admin',
    reply: z.object({ tokens: z.array(tokenInfo) }),
    run: async (d) => ({ tokens: await d.tokens.list() }),
  },
  {
    method: 'post',
    path: '/api/tokens',
    summary: 'Create a token (admin); the reply is the only time it is shown',
    scope: 'admin',
    body: createTokenBody,
    reply: z.object({ token: z.string(), info: tokenInfo }),
    status: 201,
    run: (d, i) => d.tokens.create(i.body),
  },
  {
    method: 'delete',
    path: '/api/tokens/{id}',
    summary: 'Revoke a token (admin)',
    scope: 'admin',
    params: tokenIdParam,
    reply: z.object({ revoked: z.array(tokenInfo) }),
    run: async (d, i) => ({ revoked: await d.tokens.revoke(i.params.id) }),
  },
];
