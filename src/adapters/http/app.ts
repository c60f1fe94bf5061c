/**
 * The query API as one Hono app: the same app runs behind API Gateway (lambdas/api via
 * hono/aws-lambda) and in a Node server (node-server.ts) for `npm start` and the tests.
 *
 * - Every /api route needs a bearer token of the route's scope (401 without a valid one, 403
 *   outside its scope); only the OpenAPI document and the dashboard's static files are public
 *   (they hold no data; the page asks for a token and sends it on its /api calls).
 * - Parameters are validated with the routes' zod schemas; unknown parameters are refused, so a
 *   typo never silently means "no filter".
 * - Every error is an RFC 9457 problem (`application/problem+json`); an unexpected one is a 500
 *   whose details stay in the log, never in the reply.
 * - The Authorization header is never logged.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Context, Hono } from 'hono';
import type { z } from 'zod';
import { ApiProblem } from '#domain/api.js';
import { EncodedJson, type QueryApi, type TokenApi } from '#domain/query-ports.js';
import { openApiDocument } from './openapi.js';
import { ROUTES, type Route } from './routes.js';

export interface StaticAsset {
  readonly contentType: string;
  readonly body: Uint8Array;
}

export interface ApiAppOptions {
  readonly queries: QueryApi;
  readonly tokens: TokenApi;
  /** The dashboard's built files by URL path ('/index.html', '/app.js', …), served without a token. */
  readonly staticAssets?: ReadonlyMap<string, StaticAsset> | undefined;
  /** How long identical requests to a shared route (routes.ts) share a reply; 0 turns sharing off. */
  readonly shareMs?: number | undefined;
  /** One JSON object per request and per unexpected error; console by default. */
  readonly log?: ((entry: Record<string, unknown>) => void) | undefined;
}

interface Issue {
  readonly in: string;
  readonly name: string;
  readonly message: string;
}

class InvalidRequest extends Error {
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((i) => `${i.in} parameter ${i.name}: ${i.message}`).join('; '));
  }
}

function problemReply(c: Context, status: number, title: string, detail: string, issues?: readonly Issue[]) {
  const body = {
    type: status === 400 ? 'https://iot-first.dev/problems/invalid-request' : 'about:blank',
    title,
    status,
    detail,
    ...(issues ? { errors: issues } : {}),
  };
  return c.body(JSON.stringify(body), status as 400, {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
  });
}

function parsePart(where: string, schema: z.ZodObject | undefined, raw: Record<string, unknown>) {
  if (!schema) {
    const extra = Object.keys(raw);
    if (extra.length)
      throw new InvalidRequest(extra.map((name) => ({ in: where, name, message: 'unknown parameter' })));
    return {};
  }
  const known = new Set(Object.keys(schema.shape));
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length) {
    throw new InvalidRequest(unknown.map((name) => ({ in: where, name, message: 'unknown parameter' })));
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidRequest(
      parsed.error.issues.map((i) => ({ in: where, name: i.path.join('.') || '(all)', message: i.message })),
    );
  }
  return parsed.data;
}

async function readBody(c: Context, route: Route): Promise<Record<string, unknown>> {
  if (!route.body) return {};
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw new InvalidRequest([{ in: 'body', name: '(all)', message: 'must be a JSON object' }]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidRequest([{ in: 'body', name: '(all)', message: 'must be a JSON object' }]);
  }
  return json as Record<string, unknown>;
}

function bearer(c: Context): string | undefined {
  const header = c.req.header('authorization');
  const match = header?.match(/^Bearer +(\S+) *$/i);
  return match?.[1];
}

/** A use case's reply as JSON text; one already encoded (EncodedJson) is sent as it is. */
function encode(reply: unknown): string {
  return reply instanceof EncodedJson ? reply.text : JSON.stringify(reply);
}

function weakEtag(body: string): string {
  return `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** Replies shared by identical requests for a short time (Route.shareMs), in flight included. */
class SharedReplies {
  private readonly entries = new Map<string, { until: number; text: Promise<string> }>();

  get(key: string, ttlMs: number, produce: () => Promise<string>): Promise<string> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.text;
    if (this.entries.size >= 1_000) this.entries.clear();
    const text = produce();
    this.entries.set(key, { until: now + ttlMs, text });
    text.catch(() => this.entries.delete(key));
    return text;
  }
}

function serveRoute(route: Route, deps: ApiAppOptions, shared: SharedReplies) {
  return async (c: Context) => {
    const verdict = await deps.tokens.authenticate(bearer(c), route.scope);
    if (verdict === 'unauthenticated') {
      c.header('www-authenticate', 'Bearer realm="iot-first"');
      return problemReply(c, 401, 'Unauthorized', 'a valid bearer token is required (npm run token -- create NAME)');
    }
    if (verdict === 'forbidden') {
      return problemReply(c, 403, 'Forbidden', `this route needs a token of scope ${route.scope}`);
    }
    const input = {
      params: parsePart('path', route.params, c.req.param() as Record<string, string>),
      query: parsePart('query', route.query, c.req.query()),
      body: route.body ? parsePart('body', route.body, await readBody(c, route)) : {},
    };
    const produce = async () => encode(await route.run(deps, input));
    const shareMs = deps.shareMs ?? 1_000;
    const text = route.shared && shareMs > 0 ? await shared.get(c.req.url, shareMs, produce) : await produce();
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (route.etag) {
      const etag = weakEtag(text);
      headers.etag = etag;
      const match = c.req.header('if-none-match');
      if (match?.split(',').some((t) => t.trim() === etag)) return c.body(null, 304, headers);
    }
    return c.body(text, (route.status ?? 200) as 200, headers);
  };
}

function serveStatic(app: Hono, assets: ReadonlyMap<string, StaticAsset>) {
  app.get('*', (c, next) => {
    const path = c.req.path === '/' ? '/index.html' : c.req.path;
    const asset = assets.get(path);
    if (!asset) return next();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': asset.contentType,
      'cache-control': path === '/index.html' ? 'no-cache' : 'public, max-age=300',
      'x-content-type-options': 'nosniff',
    });
  });
}

export function createApiApp(options: ApiAppOptions): Hono {
  const log = options.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const app = new Hono();
  const document = JSON.stringify(openApiDocument(ROUTES));
  const shared = new SharedReplies();

  app.use('*', async (c, next) => {
    const started = performance.now();
    const correlationId = c.req.header('x-request-id')?.slice(0, 64) || randomUUID();
    c.header('x-request-id', correlationId);
    await next();
    log({
      level: 'INFO',
      message: 'request',
      correlation_id: correlationId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round(performance.now() - started),
    });
  });

  app.get('/api/openapi.json', (c) =>
    c.body(document, 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' }),
  );
  for (const route of ROUTES) {
    app.on(route.method.toUpperCase(), route.path.replace(/\{(\w+)\}/g, ':$1'), serveRoute(route, options, shared));
  }
  if (options.staticAssets) serveStatic(app, options.staticAssets);

  app.notFound((c) => problemReply(c, 404, 'Not found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    if (error instanceof InvalidRequest) return problemReply(c, 400, 'Bad request', error.message, error.issues);
    if (error instanceof ApiProblem) return problemReply(c, error.status, error.title, error.detail);
    log({
      level: 'ERROR',
      message: 'request failed',
      path: c.req.path,
      error: error instanceof Error ? error.message : String(error),
    });
    return problemReply(c, 500, 'Internal server error', 'the request failed; the server log has the details');
  });
  return app;
}
