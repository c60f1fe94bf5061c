/**
 * The dashboard as API Gateway serves it (issue 10, the CDK's REST API): the page lives under the
 * stage (`/v1/`), and the function receives REST API v1 proxy events whose `path` has the stage
 * removed. A small front here plays that part in front of the real app's Lambda entry
 * (`hono/aws-lambda`, as lambdas/api uses): requests under `/v1/` become v1 events, anything
 * outside the stage gets API Gateway's 403. The parts are real (Chromium, the app, PostgreSQL);
 * the front stands in for API Gateway, which cannot run here, and only maps requests to events.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Context } from 'aws-lambda';
import { handle } from 'hono/aws-lambda';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { readApiSettings } from '#config/api.js';
import { composeApi } from '#lambdas/api/compose.js';
import { createToken } from '#pipeline/api-tokens.js';
import { buildDashboardAssets } from '#web/build.js';
import { runAggregator } from '../support/api-fixtures.js';
import { artifactsDir, browserSkipReason, launchChromium } from '../support/dash-browser.js';
import { type KnownFleet, seedKnownFleet } from '../support/dash-fleet.js';
import { createTestDatabase } from '../support/database.js';

declare const document: { querySelectorAll(selector: string): { length: number } };
declare const sessionStorage: { setItem(key: string, value: string): void };

const STAGE = 'v1';

interface ProxyResult {
  statusCode: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

/** One HTTP request as the REST API v1 proxy event API Gateway would send for it. */
function proxyEvent(req: http.IncomingMessage, url: URL, body: Buffer) {
  const path = url.pathname.slice(`/${STAGE}`.length) || '/';
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  const query = [...url.searchParams.keys()];
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: query.length ? Object.fromEntries(url.searchParams) : null,
    multiValueQueryStringParameters: query.length
      ? Object.fromEntries(query.map((k) => [k, url.searchParams.getAll(k)]))
      : null,
    pathParameters: path === '/' ? null : { proxy: path.slice(1) },
    stageVariables: null,
    requestContext: {
      stage: STAGE,
      path: url.pathname,
      resourcePath: '/{proxy+}',
      httpMethod: req.method ?? 'GET',
      requestId: randomUUID(),
      identity: { sourceIp: '127.0.0.1' },
      domainName: url.host,
    },
    body: body.length ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
  };
}

let db: pg.Pool;
let fleet: KnownFleet;
let token: string;
let front: http.Server;
let frontUrl: string;
let browser: Browser;
/** Paths asked for outside the stage (each would be a 403 on API Gateway). */
const outside: string[] = [];

describe.skipIf(browserSkipReason !== null)(
  `dashboard under API Gateway's stage prefix${browserSkipReason ? ` (skipped: ${browserSkipReason})` : ''}`,
  () => {
    beforeAll(async () => {
      db = new pg.Pool({ connectionString: await createTestDatabase('dashboard_stage'), max: 4 });
      fleet = await seedKnownFleet(db, () => runAggregator(db), { now: new Date(), count: 12, stale: 2, offline: 1 });
      token = (await createToken(new PostgresTokenStore(db), { name: 'stage-test', scope: 'read' })).token;
      const app = composeApi({
        pool: db,
        settings: readApiSettings({}),
        staticAssets: await buildDashboardAssets(),
        log: () => undefined,
      });
      const lambda = handle(app);
      front = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
          if (!url.pathname.startsWith(`/${STAGE}/`)) {
            outside.push(url.pathname);
            res
              .writeHead(403, { 'content-type': 'application/json' })
              .end('{"message":"Missing Authentication Token"}');
            return;
          }
          const event = proxyEvent(req, url, Buffer.concat(chunks));
          const result = (await lambda(event as never, {} as Context)) as ProxyResult;
          const headers: Record<string, string | string[]> = { ...result.headers, ...result.multiValueHeaders };
          res.writeHead(result.statusCode, headers);
          res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
        });
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => front?.close(resolve));
      await db?.end();
    });

    it('answers the API under the stage and nothing outside it, as API Gateway does', async () => {
      const auth = { authorization: `Bearer ${token}` };
      const health = await fetch(`${frontUrl}/${STAGE}/api/health`, { headers: auth });
      expect(health.status).toBe(200);
      expect(await health.json()).toHaveProperty('aggregator');
      expect((await fetch(`${frontUrl}/api/health`, { headers: auth })).status).toBe(403);
      outside.length = 0;
    });

    it('loads the page, its assets and every API call under /v1/, and shows the fleet live', async () => {
      const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
      await context.addInitScript((t) => sessionStorage.setItem('iot-first.token', t), token);
      const page = await context.newPage();
      const failed: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${frontUrl}/${STAGE}/`);
      const sensors = fleet.ok.length + fleet.stale.length + fleet.offline.length;
      await page.waitForFunction((n) => document.querySelectorAll('.tile[data-sensor-id]').length >= n, sensors);
      // The live badge turns on once /api/changes answered (through the stage as well).
      await page.locator('.live.on').waitFor();
      expect(outside).toEqual([]);
      expect(failed).toEqual([]);
      await page.screenshot({ path: path.join(await artifactsDir(), 'stage-prefix.png') });
      await context.close();
    });
  },
);
