/**
 * The dashboard in a real browser (issue 10): headless Chromium (Debian's package, driven by
 * playwright-core) against the real query API app on @hono/node-server, over real PostgreSQL
 * holding a fleet of known shape, serving the page as the build step makes it. Screenshots are
 * kept in test-artifacts/dashboard/.
 */
import path from 'node:path';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApiServer, serveApi } from '#adapters/http/node-server.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { readApiSettings } from '#config/api.js';
import { composeApi } from '#lambdas/api/compose.js';
import { createToken } from '#pipeline/api-tokens.js';
import { buildDashboardAssets, type DashboardAssets } from '#web/build.js';
import { runAggregator } from '../support/api-fixtures.js';
import { artifactsDir, browserSkipReason, launchChromium } from '../support/dash-browser.js';
import { type KnownFleet, kindOf, readingRow, seedKnownFleet } from '../support/dash-fleet.js';
import { createTestDatabase } from '../support/database.js';

/**
 * The few browser globals the page functions below use: this file is type-checked as Node code,
 * and these declarations stay local to it instead of adding the DOM library to the whole project.
 */
interface ProbeNode {
  textContent: string | null;
  querySelector(selector: string): ProbeNode | null;
}
interface ChartBox {
  uplot: {
    valToPos(value: number, scale: string, canvasPixels: boolean): number;
    bbox: { top: number; height: number };
  };
  querySelector(selector: 'canvas'): {
    getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  };
}
declare const document: {
  querySelector(selector: string): ProbeNode | null;
  querySelectorAll(selector: string): { length: number };
};
declare const sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const localStorage: { length: number };

const FLEET_SIZE = 1_000;
const STALE = 6;
const OFFLINE = 4;

let db: pg.Pool;
let fleet: KnownFleet;
let token: string;
let assets: DashboardAssets;
let server: RunningApiServer;
let browser: Browser;
let shots: string;

function apiApp() {
  return composeApi({ pool: db, settings: readApiSettings({}), staticAssets: assets, log: () => undefined });
}

/** A fresh browser profile, as a new visitor has: no token, nothing cached. */
async function newVisitor(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[13]|Failed to load resource/.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  return { context, page, problems };
}

/** A visitor whose tab already holds the token (as after the prompt). */
async function signedInVisitor(url: string) {
  const visitor = await newVisitor();
  await visitor.context.addInitScript((t) => sessionStorage.setItem('iot-first.token', t), token);
  await visitor.page.goto(url);
  return visitor;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });
}

async function enterToken(page: Page, value: string): Promise<void> {
  await page.getByLabel('API token').fill(value);
  await page.getByRole('button', { name: 'Open the dashboard' }).click();
}

const tileCount = (page: Page, status?: string) =>
  page.locator(status ? `.tile[data-status="${status}"]` : '.tile').count();

describe.skipIf(browserSkipReason !== null)(
  `dashboard in headless Chromium${browserSkipReason ? ` (skipped: ${browserSkipReason})` : ''}`,
  () => {
    beforeAll(async () => {
      db = new pg.Pool({ connectionString: await createTestDatabase('dashboard_browser'), max: 6 });
      fleet = await seedKnownFleet(db, () => runAggregator(db), {
        now: new Date(),
        count: FLEET_SIZE,
        stale: STALE,
        offline: OFFLINE,
      });
      token = (await createToken(new PostgresTokenStore(db), { name: 'browser-test', scope: 'read' })).token;
      assets = await buildDashboardAssets();
      server = await serveApi(apiApp());
      browser = await launchChromium();
      shots = await artifactsDir();
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await db?.end();
    });

    it('asks a new visitor for a token, refuses a wrong one, and opens on the right one', async () => {
      const { context, page, problems } = await newVisitor();
      await page.goto(server.url);
      await page.getByLabel('API token').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('iot-first.token'))).toBeNull();
      await shot(page, '01-token-prompt');

      await enterToken(page, 'not-a-token');
      await expect.poll(() => page.locator('.prompt-error').textContent()).toMatch(/refused this token/);

      await enterToken(page, token);
      await page.locator('.tile').first().waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('iot-first.token'))).toBe(token);
      expect(await page.evaluate(() => localStorage.length)).toBe(0);
      await shot(page, '02-fleet');
      expect(problems).toEqual([]);
      await context.close();
    });

    it('shows the whole fleet with the status the data gives each sensor, and filters it', async () => {
      const { context, page, problems } = await signedInVisitor(server.url);
      await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, FLEET_SIZE + 1);
      expect(await tileCount(page, 'ok')).toBe(fleet.ok.length);
      expect(await tileCount(page, 'stale')).toBe(fleet.stale.length);
      expect(await tileCount(page, 'offline')).toBe(fleet.offline.length);
      for (const [status, ids] of Object.entries({ ok: fleet.ok, stale: fleet.stale, offline: fleet.offline })) {
        const id = ids[ids.length - 1] as string;
        expect(await page.locator(`.tile[data-sensor-id="${id}"]`).getAttribute('data-status'), id).toBe(status);
      }

      await page.locator('button[data-filter-status="stale"]').click();
      await page.waitForFunction((n) => document.querySelectorAll('.grid .tile').length === n, fleet.stale.length);
      expect(new URL(page.url()).searchParams.get('status')).toBe('stale');
      await shot(page, '03-fleet-stale');

      await page.locator('button[data-filter-status="all"]').click();
      await page.getByLabel('Search sensors').fill('temp-chart');
      await page.waitForFunction(() => document.querySelectorAll('.grid .tile').length === 1);
      expect(new URL(page.url()).searchParams.get('q')).toBe('temp-chart');
      expect(problems).toEqual([]);
      await context.close();
    });

    it('draws a sensor with one point per minute of data and a gap where data is missing', async () => {
      const id = fleet.chart.sensorId;
      const { context, page, problems } = await signedInVisitor(
        `${server.url}/?view=sensor&sensor=${id}&range=1h&step=1m`,
      );
      const chart = page.locator('[data-chart="band"]');
      await chart.locator('canvas').waitFor();
      expect(Number(await chart.getAttribute('data-points'))).toBe(fleet.chart.minutesWithData.length);
      const buckets = Number(await chart.getAttribute('data-buckets'));
      expect(buckets).toBeGreaterThanOrEqual(60);
      expect(Number(await chart.getAttribute('data-gaps'))).toBe(buckets - fleet.chart.minutesWithData.length);

      // The minutes without data are gap rows in the table behind the chart, one per minute.
      const gapRows = await page.locator('table.data tr[data-gap] td:first-child').allTextContents();
      for (const minute of fleet.chart.gapMinutes) {
        expect(gapRows).toContain(`${minute.toISOString().slice(0, 19).replace('T', ' ')} UTC`);
      }

      // On the canvas: the band's blue is drawn over a minute with data and absent inside the gap.
      const blueIn = (at: Date) =>
        page.evaluate(
          (sec) => {
            const box = document.querySelector('[data-chart="band"]') as unknown as ChartBox;
            const u = box.uplot;
            const x = Math.round(u.valToPos(sec, 'x', true));
            const ctx = box.querySelector('canvas').getContext('2d');
            const column = ctx.getImageData(x - 1, Math.round(u.bbox.top), 3, Math.round(u.bbox.height)).data;
            let blue = 0;
            for (let i = 0; i < column.length; i += 4) {
              const [r, g, b, a] = [column[i] ?? 0, column[i + 1] ?? 0, column[i + 2] ?? 0, column[i + 3] ?? 0];
              if (a > 20 && b > 200 && g > 140 && r < 130) blue++;
            }
            return blue;
          },
          at.getTime() / 1000 + 30,
        );
      const gapMiddle = fleet.chart.gapMinutes[Math.floor(fleet.chart.gapMinutes.length / 2)] as Date;
      const withData = fleet.chart.minutesWithData[5] as Date;
      expect(await blueIn(withData)).toBeGreaterThan(0);
      expect(await blueIn(gapMiddle)).toBe(0);
      await shot(page, '04-sensor-gap');
      expect(problems).toEqual([]);
      await context.close();
    });

    it('shows a reading inserted during the test within 10 seconds, without a reload', async () => {
      const { context, page, problems } = await signedInVisitor(server.url);
      const id = fleet.offline[0] as string;
      const tile = page.locator(`.tile[data-sensor-id="${id}"]`);
      await tile.waitFor();
      expect(await tile.getAttribute('data-status')).toBe('offline');
      // The page has taken its first /api/changes cursor once the live badge reports a check.
      await page.locator('.live.on').waitFor();

      const kind = kindOf(id.startsWith('temp') ? 'temperature' : id.startsWith('hum') ? 'humidity' : 'pressure');
      await new PostgresPipelineStore(db).insertReadings([readingRow(id, kind, new Date(), kind.centre + 0.37)]);
      const expected = `${kind.centre + 0.37} ${kind.unit}`;
      const started = Date.now();
      await page.waitForFunction(
        ([sel, text]) => document.querySelector(sel as string)?.querySelector('.tile-value')?.textContent === text,
        [`.tile[data-sensor-id="${id}"]`, expected],
        { timeout: 10_000 },
      );
      console.log(`live reading shown ${Date.now() - started} ms after its insert`);
      expect(await tile.getAttribute('data-status')).toBe('ok');
      await shot(page, '05-live-update');
      expect(problems).toEqual([]);
      await context.close();
    });

    it('asks again for the token when the API refuses the one the tab holds', async () => {
      const { context, page } = await newVisitor();
      await context.addInitScript(() => sessionStorage.setItem('iot-first.token', 'expired-or-revoked'));
      await page.goto(`${server.url}/?view=health`);
      await expect.poll(() => page.locator('.prompt-error').textContent()).toMatch(/refused this token/);
      await enterToken(page, token);
      await page.locator('.cards .card').first().waitFor();
      expect(new URL(page.url()).searchParams.get('view')).toBe('health');
      await context.close();
    });

    it('says so when the API cannot be reached, and recovers when it is back', async () => {
      const own = await serveApi(apiApp());
      const { context, page } = await signedInVisitor(own.url);
      await page.locator('.tile').first().waitFor();
      await own.close();
      await page.locator('.banner[data-kind="network"]').waitFor({ timeout: 10_000 });
      expect(await page.locator('.banner').textContent()).toMatch(/Cannot reach the API/);
      await shot(page, '06-network-error');
      const again = await serveApi(apiApp(), { port: own.port });
      await page.locator('.banner').waitFor({ state: 'hidden', timeout: 10_000 });
      await again.close();
      await context.close();
    });
  },
);
