/**
 * `npm run docs:screenshot`: the README's pictures of the dashboard, made by the browser against
 * realistic data. Starts its own PostgreSQL (embedded, temporary), fills it through the pipeline's
 * own store, aggregator and data-quality function, serves the real API app with the freshly
 * built page, and has headless Chromium photograph the fleet and one sensor into docs/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { serveApi } from '#adapters/http/node-server.js';
import { sharedPool } from '#adapters/postgres/pool.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { readApiSettings } from '#config/api.js';
import { migrate } from '#db/migrate.js';
import { composeApi } from '#lambdas/api/compose.js';
import { createToken } from '#pipeline/api-tokens.js';
import { ensureDatabase, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { freePort } from '#runtime/free-port.js';
import { runAggregator } from '#test/support/api-fixtures.js';
import { launchChromium } from '#test/support/dash-browser.js';
import { seedRealisticFleet } from '#test/support/dash-fleet.js';
import { lambdaContext } from '#test/support/factories.js';
import { buildDashboardAssets } from './build.js';

/** The one browser global used below (this file is type-checked as Node code). */
declare const sessionStorage: { setItem(key: string, value: string): void };

const DOCS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs');

async function runDataQuality(url: string): Promise<void> {
  Object.assign(process.env, {
    DATABASE_URL: url,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const { handler } = await import('#lambdas/dq/handler.js');
  await handler({ id: `screenshot-${Date.now()}` }, lambdaContext('iot-dq', 300_000));
  // The function keeps its pool for the next invocation, as on Lambda: close it before the server stops.
  await (await sharedPool()).end();
}

const stateDir = await mkdtemp(path.join(os.tmpdir(), 'dashboard-screenshot-'));
const postgres = await startEmbeddedPostgres({ stateDir, port: await freePort(), persistent: false });
try {
  await ensureDatabase(postgres.adminUrl, 'iot');
  const url = postgres.urlFor('iot');
  await migrate({ database: url });
  const db = new pg.Pool({ connectionString: url, max: 6 });
  // A client still idle when the temporary server stops would otherwise crash the script at its end.
  db.on('error', () => undefined);
  const fleet = await seedRealisticFleet(db, () => runAggregator(db), { now: new Date(), count: 60, hours: 6 });
  await runDataQuality(url);
  const { token } = await createToken(new PostgresTokenStore(db), { name: 'screenshot', scope: 'read' });
  const app = composeApi({
    pool: db,
    settings: readApiSettings({}),
    staticAssets: await buildDashboardAssets(),
    log: () => undefined,
  });
  const server = await serveApi(app);
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    await context.addInitScript((t) => sessionStorage.setItem('iot-first.token', t), token);
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('.tile').first().waitFor();
    await page.locator('.live.on').waitFor();
    await page.screenshot({ path: path.join(DOCS, 'dashboard-fleet.png') });
    await page.goto(`${server.url}/?view=sensor&sensor=${fleet.alertSensor}&range=6h&step=5m`);
    await page.locator('[data-chart="band"] canvas').waitFor();
    await page.locator('.live.on').waitFor();
    await page.screenshot({ path: path.join(DOCS, 'dashboard-sensor.png') });
    await page.goto(`${server.url}/?view=sensor&sensor=${fleet.gapSensor}&range=6h&step=5m`);
    await page.locator('[data-chart="band"] canvas').waitFor();
    await page.screenshot({ path: path.join('test-artifacts', 'dashboard-gap-sensor.png') });
    for (const view of ['errors', 'quality', 'health']) {
      await page.goto(`${server.url}/?view=${view}`);
      await page.locator('main h2').waitFor();
      await page.waitForTimeout(1500);
      await page.screenshot({ path: path.join('test-artifacts', `dashboard-${view}.png`) });
    }
    console.log(`written: ${path.join(DOCS, 'dashboard-fleet.png')}, ${path.join(DOCS, 'dashboard-sensor.png')}`);
  } finally {
    await browser.close();
    await server.close();
    await db.end();
  }
} finally {
  await postgres.stop();
  await rm(stateDir, { recursive: true, force: true });
  if (!postgres.dataDir.startsWith(stateDir))
    await rm(path.dirname(postgres.dataDir), { recursive: true, force: true });
}
