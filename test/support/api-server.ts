/**
 * A real query API for a test file: a fresh migrated database, a login user in `iot_api` (the
 * deployed role, so a missing grant fails here), the app composed as the Lambda composes it, a
 * Node HTTP server on a free port, and a read and an admin token created as `npm run token` does.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { serveApi } from '#adapters/http/node-server.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { type ApiSettings, readApiSettings } from '#config/api.js';
import { composeApi } from '#lambdas/api/compose.js';
import { createToken } from '#pipeline/api-tokens.js';
import { createTestDatabase } from './database.js';

export interface ApiTestServer {
  readonly url: string;
  /** Superuser pool of the test database, for writing fixtures. */
  readonly db: pg.Pool;
  readonly readToken: string;
  readonly adminToken: string;
  /** GET (or another method) with a token (the read token unless given; null for none). */
  request(
    path: string,
    init?: { token?: string | null; method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  close(): Promise<void>;
}

export interface ApiTestServerOptions {
  /** Called with the text of every statement the API's pool runs (pool.query), before it runs. */
  readonly onQuery?: (text: string) => void;
}

export async function startApiTestServer(
  label: string,
  env: Record<string, string> = {},
  options: ApiTestServerOptions = {},
): Promise<ApiTestServer> {
  const adminUrl = await createTestDatabase(label);
  const db = new pg.Pool({ connectionString: adminUrl, max: 4 });
  const user = `api_test_${randomUUID().slice(0, 8)}`;
  const password = `pw-${randomUUID()}`;
  await db.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}' IN ROLE iot_api`);
  const apiUrl = new URL(adminUrl);
  apiUrl.username = user;
  apiUrl.password = password;
  const apiPool = new pg.Pool({ connectionString: apiUrl.toString(), max: 8 });
  if (options.onQuery) observeQueries(apiPool, options.onQuery);
  const settings: ApiSettings = readApiSettings({ TOKEN_CACHE_MS: '1', API_SHARE_REPLIES_MS: '0', ...env });
  const errors: Record<string, unknown>[] = [];
  const app = composeApi({
    pool: apiPool,
    settings,
    log: (entry) => {
      if (entry.level === 'ERROR') errors.push(entry);
    },
  });
  const server = await serveApi(app);
  const tokens = new PostgresTokenStore(db);
  const readToken = (await createToken(tokens, { name: `read-${label}`, scope: 'read' })).token;
  const adminToken = (await createToken(tokens, { name: `admin-${label}`, scope: 'admin' })).token;
  return {
    url: server.url,
    db,
    readToken,
    adminToken,
    request: (path, init = {}) => {
      const token = init.token === undefined ? readToken : init.token;
      return fetch(`${server.url}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
    },
    close: async () => {
      await server.close();
      await apiPool.end();
      await db.query(`DROP OWNED BY ${user}`).catch(() => undefined);
      await db.query(`DROP ROLE ${user}`).catch(() => undefined);
      await db.end();
      if (errors.length) throw new Error(`the API logged errors: ${JSON.stringify(errors)}`);
    },
  };
}

/** Wraps the pool's query so a test can count the statements the API runs on the real database. */
function observeQueries(pool: pg.Pool, onQuery: (text: string) => void): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const first = args[0];
    onQuery(typeof first === 'string' ? first : String((first as { text?: unknown }).text ?? ''));
    return query(...args);
  }) as typeof pool.query;
}
