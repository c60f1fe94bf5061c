/**
 * Who may read, and what bad input gets, over real HTTP on real PostgreSQL: 401 without a valid
 * token (missing, malformed, unknown, expired, revoked), 403 outside the token's scope, token
 * management by an admin token, RFC 9457 problems for every 400/404, the OpenAPI document, the
 * dashboard's static files, and hostile query strings that never get a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '#adapters/http/app.js';
import { serveApi } from '#adapters/http/node-server.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { createToken } from '#pipeline/api-tokens.js';
import { runAggregator, writeReadings } from '../support/api-fixtures.js';
import { type ApiTestServer, startApiTestServer } from '../support/api-server.js';

let api: ApiTestServer;

beforeAll(async () => {
  api = await startApiTestServer('api_auth');
  const now = Date.now();
  await writeReadings(
    api.db,
    Array.from({ length: 30 }, (_, i) => ({ sensor: 'a1', at: new Date(now - i * 30_000).toISOString(), value: i })),
  );
  await runAggregator(api.db);
});
afterAll(async () => api?.close());

async function expectProblem(response: Response, status: number): Promise<{ detail: string; errors?: unknown[] }> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const body = (await response.json()) as { status: number; title: string; detail: string };
  expect(body.status).toBe(status);
  expect(body.title).toBeTruthy();
  return body;
}

describe('bearer tokens', () => {
  it('401 without a token, with a malformed, unknown, expired or revoked one', async () => {
    const missing = await api.request('/api/sensors', { token: null });
    await expectProblem(missing, 401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    await expectProblem(await api.request('/api/sensors', { token: 'not-a-token' }), 401);
    await expectProblem(await api.request('/api/sensors', { token: `iotf_${'A'.repeat(43)}` }), 401);
    const wrongScheme = await api.request('/api/sensors', {
      token: null,
      headers: { authorization: `Basic ${api.readToken}` },
    });
    await expectProblem(wrongScheme, 401);

    const store = new PostgresTokenStore(api.db);
    const expired = await createToken(store, { name: 'expired', scope: 'read', expiresInDays: 1 });
    expect((await api.request('/api/sensors', { token: expired.token })).status).toBe(200);
    await api.db.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'expired'`);
    await new Promise((resolve) => setImmediate(resolve));
    await expectProblem(await api.request('/api/sensors', { token: expired.token }), 401);

    const revoked = await createToken(store, { name: 'to-revoke', scope: 'read' });
    expect((await api.request('/api/sensors', { token: revoked.token })).status).toBe(200);
    expect((await store.revoke('to-revoke')).map((t) => t.name)).toEqual(['to-revoke']);
    await expectProblem(await api.request('/api/sensors', { token: revoked.token }), 401);
  });

  it('stores only hashes', async () => {
    const { rows } = await api.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM api_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))`,
      [api.readToken],
    );
    expect(rows[0]?.n).toBe(1);
    const plain = await api.db.query(`SELECT 1 FROM api_tokens t WHERE row_to_json(t)::text LIKE '%' || $1 || '%'`, [
      api.readToken.slice(5),
    ]);
    expect(plain.rowCount).toBe(0);
  });

  it('403 for a read token on admin routes; an admin token creates, lists and revokes tokens', async () => {
    await expectProblem(await api.request('/api/tokens'), 403);
    await expectProblem(await api.request('/api/tokens', { method: 'POST', body: { name: 'x' } }), 403);
    const created = await api.request('/api/tokens', {
      token: api.adminToken,
      method: 'POST',
      body: { name: 'dashboard', scope: 'read', expiresInDays: 30 },
    });
    expect(created.status).toBe(201);
    const { token, info } = (await created.json()) as { token: string; info: { tokenId: string; expiresAt: string } };
    expect(Date.parse(info.expiresAt)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await api.request('/api/sensors', { token })).status).toBe(200);
    const list = (await (await api.request('/api/tokens', { token: api.adminToken })).json()) as {
      tokens: { name: string; prefix: string }[];
    };
    expect(list.tokens.map((t) => t.name)).toContain('dashboard');
    expect(JSON.stringify(list)).not.toContain(token);
    const revoked = await api.request(`/api/tokens/${info.tokenId}`, { token: api.adminToken, method: 'DELETE' });
    expect(revoked.status).toBe(200);
    await expectProblem(await api.request('/api/sensors', { token }), 401);
    await expectProblem(
      await api.request('/api/tokens', { token: api.adminToken, method: 'POST', body: { name: '' } }),
      400,
    );
    await expectProblem(await api.request('/api/tokens/not-a-uuid', { token: api.adminToken, method: 'DELETE' }), 400);
  });
});

describe('problems', () => {
  it.each([
    ['/api/sensors?limit=0', 'limit'],
    ['/api/sensors?limit=10001', 'limit'],
    ['/api/sensors?status=asleep', 'status'],
    ['/api/sensors?bogus=1', 'bogus'],
    ['/api/sensors?cursor=%27%3B%20DROP%20TABLE%20sensor_readings%3B--', 'cursor'],
    ['/api/sensors/a1/windows?step=2m', 'step'],
    ['/api/sensors/a1/windows?from=yesterday', 'from'],
    ['/api/sensors/a1/windows?from=2026-11-26T12:00:00Z&to=2026-11-26T11:00:00Z', 'from'],
    ['/api/sensors/a1/readings?limit=-5', 'limit'],
    ['/api/errors?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', '31 days'],
    ['/api/errors?step=1m&from=2026-11-01T00:00:00Z&to=2026-11-10T00:00:00Z', 'at most 1500'],
    ['/api/changes?since=abc', 'since'],
  ])('400 naming the problem: %s', async (path, named) => {
    const problem = await expectProblem(await api.request(path), 400);
    expect(problem.detail).toContain(named);
  });

  it('404 for an unknown sensor and an unknown route', async () => {
    await expectProblem(await api.request('/api/sensors/nobody'), 404);
    await expectProblem(await api.request('/api/sensors/nobody/windows'), 404);
    await expectProblem(await api.request('/api/nothing-here'), 404);
  });

  it('a cursor of one endpoint or sort order is refused by another', async () => {
    const page = (await (await api.request('/api/sensors/a1/readings?limit=2')).json()) as { nextCursor: string };
    await expectProblem(await api.request(`/api/sensors?cursor=${page.nextCursor}`), 400);
    const fleet = (await (await api.request('/api/sensors?limit=1')).json()) as { nextCursor: string | null };
    expect(fleet.nextCursor).toBeNull(); // one sensor only
  });
});

describe('hostile query strings', () => {
  const hostile = [
    "/api/sensors?q=' OR 1=1 --",
    '/api/sensors?q=%00%01%02',
    '/api/sensors?q=%E0%A4%A',
    '/api/sensors?type=temperature&type=humidity',
    `/api/sensors?q=${'x'.repeat(5000)}`,
    '/api/sensors?limit=1e309',
    '/api/sensors?limit=99999999999999999999999',
    '/api/sensors?limit=-1',
    '/api/sensors?limit=2.5',
    '/api/sensors?cursor=',
    `/api/sensors?cursor=${Buffer.from('["fleet","id","asc","x"]').toString('base64url')}`,
    `/api/sensors?cursor=${Buffer.from('["fleet","id","asc",1,{}]').toString('base64url')}`,
    `/api/sensors/a1/readings?cursor=${Buffer.from('["readings","not a time","x","y"]').toString('base64url')}`,
    `/api/sensors/a1/readings?cursor=${Buffer.from('["readings","not a time","x"]').toString('base64url')}`,
    "/api/sensors/a1'%3B--/readings",
    `/api/sensors/${'z'.repeat(300)}`,
    '/api/sensors/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/api/sensors/a1/windows?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&step=1m',
    '/api/sensors/a1/windows?from=1900-01-01T00:00:00Z',
    '/api/sensors/a1/windows?from=-271821-04-20T00:00:00Z',
    '/api/sensors/a1/windows?from=2026-11-26T12:00:00+99:00',
    `/api/sensors/a1/windows?step=1m&cursor=${Buffer.from('["windows","1m",-1e300,1]').toString('base64url')}`,
    '/api/sensors/a1/windows?to=2099-12-31T23:59:59Z&step=1d',
    '/api/errors?type=DROP TABLE',
    '/api/errors?sensor=%27;DELETE FROM sensor_errors;--',
    '/api/changes?since=99999999999999999999',
    '/api/changes?since=0',
    '/api/dq/runs?limit=200&cursor=AAAA',
  ];

  it.each(hostile)('never a 5xx: %s', async (path) => {
    const response = await api.request(path);
    expect(response.status).toBeLessThan(500);
    const body = (await response.json()) as { truncated?: boolean };
    if (response.status === 200 && path.includes('2030-01-01')) expect(body.truncated).toBe(true);
  });

  it('left the data in place', async () => {
    const { rows } = await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sensor_readings');
    expect(rows[0]?.n).toBe(30);
  });
});

describe('documents and static files', () => {
  it('serves an OpenAPI 3.1 document generated from the route schemas, without a token', async () => {
    const response = await api.request('/api/openapi.json', { token: null });
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters: { name: string; schema: { enum?: string[] } }[] }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/sensors',
        '/api/sensors/{id}',
        '/api/sensors/{id}/readings',
        '/api/sensors/{id}/windows',
        '/api/errors',
        '/api/dq/runs',
        '/api/dq/runs/latest',
        '/api/health',
        '/api/changes',
      ]),
    );
    const step = doc.paths['/api/sensors/{id}/windows']?.get?.parameters.find((p) => p.name === 'step');
    expect(step?.schema.enum).toEqual(['1m', '5m', '15m', '1h', '1d']);
  });

  it('serves the dashboard files at / without a token, and /api still needs one', async () => {
    const assets = new Map([
      ['/index.html', { contentType: 'text/html; charset=utf-8', body: Buffer.from('<!doctype html><p>dash</p>') }],
      ['/app.js', { contentType: 'text/javascript; charset=utf-8', body: Buffer.from('console.log(1)') }],
    ]);
    const app = createApiApp({
      queries: {} as never,
      tokens: { authenticate: async () => 'unauthenticated' } as never,
      staticAssets: assets,
      log: () => undefined,
    });
    const server = await serveApi(app);
    try {
      const index = await fetch(`${server.url}/`);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toContain('text/html');
      expect(await index.text()).toContain('dash');
      expect(await (await fetch(`${server.url}/app.js`)).text()).toBe('console.log(1)');
      expect((await fetch(`${server.url}/missing.js`)).status).toBe(404);
      expect((await fetch(`${server.url}/api/sensors`)).status).toBe(401);
    } finally {
      await server.close();
    }
  });
});
