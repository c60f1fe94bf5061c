/**
 * The dashboard's build step: what it produces, the page-weight budget (issue 10: at most
 * 150 KB of gzipped JavaScript, measured on the real build output), and the write/load round
 * trip the Lambda bundle relies on.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboardAssets, type DashboardAssets, loadDashboardAssets, writeDashboardAssets } from '#web/build.js';

const JS_BUDGET_GZIP_BYTES = 150 * 1024;

const pathOf = (assets: DashboardAssets, extension: string) =>
  [...assets.keys()].find((p) => p.startsWith('/assets/') && p.endsWith(extension)) as string;

describe('dashboard build', () => {
  let assets: DashboardAssets;
  let dir: string;

  beforeAll(async () => {
    assets = await buildDashboardAssets();
    dir = await mkdtemp(path.join(os.tmpdir(), 'dashboard-assets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves one page at / and /index.html that loads the bundled script and stylesheet', () => {
    const SCRIPT_PATH = pathOf(assets, '.js');
    const STYLE_PATH = pathOf(assets, '.css');
    expect(SCRIPT_PATH).toMatch(/^\/assets\/dashboard-[0-9a-f]{10}\.js$/);
    expect(STYLE_PATH).toMatch(/^\/assets\/dashboard-[0-9a-f]{10}\.css$/);
    const page = assets.get('/');
    expect(page).toBe(assets.get('/index.html'));
    expect(page?.contentType).toBe('text/html; charset=utf-8');
    const html = Buffer.from(page!.body).toString('utf8');
    // Relative to the page (`assets/...`), so the page also works under API Gateway's `/<stage>/`.
    expect(html).toContain(`<script type="module" src="${SCRIPT_PATH.slice(1)}">`);
    expect(html).toContain(`<link rel="stylesheet" href="${STYLE_PATH.slice(1)}"`);
    expect(html).not.toMatch(/(src|href)="\//);
    expect(html).not.toMatch(/%[A-Z]+%/);
    expect(assets.get(SCRIPT_PATH)?.contentType).toBe('text/javascript; charset=utf-8');
    expect(assets.get(STYLE_PATH)?.contentType).toBe('text/css; charset=utf-8');
  });

  it('bundles uPlot and the page into one script with no bare imports left for the browser', () => {
    const script = Buffer.from(assets.get(pathOf(assets, '.js'))!.body).toString('utf8');
    expect(script).not.toMatch(/\bimport\s*[^(]*\bfrom\s*["']/);
    expect(script).toContain('/api/changes');
    const css = Buffer.from(assets.get(pathOf(assets, '.css'))!.body).toString('utf8');
    expect(css).toContain('.uplot');
  });

  it('keeps the gzipped JavaScript within 150 KB', () => {
    const scripts = [...assets.entries()].filter(([, a]) => a.contentType.startsWith('text/javascript'));
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce((sum, [, a]) => sum + gzipSync(a.body, { level: 9 }).byteLength, 0);
    console.log(`dashboard JavaScript: ${(gzipped / 1024).toFixed(1)} KB gzipped (budget 150 KB)`);
    expect(gzipped).toBeLessThanOrEqual(JS_BUDGET_GZIP_BYTES);
  });

  it('writes the files and loads back exactly what was built', async () => {
    const written = await writeDashboardAssets(dir, assets);
    const names = [...assets.keys()].filter((p) => p !== '/').map((p) => p.slice(1));
    expect(names).toHaveLength(3);
    expect(written.map((f) => path.relative(dir, f)).sort()).toEqual(names.sort());
    expect((await readdir(dir)).sort()).toEqual(['assets', 'index.html']);
    const loaded = await loadDashboardAssets(dir);
    expect([...loaded.keys()].sort()).toEqual([...assets.keys()].sort());
    for (const [urlPath, asset] of assets) {
      expect(loaded.get(urlPath)?.contentType, urlPath).toBe(asset.contentType);
      expect(Buffer.from(loaded.get(urlPath)!.body).equals(Buffer.from(asset.body)), urlPath).toBe(true);
    }
  });

  it('says what to do when the folder holds no built page', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'dashboard-empty-'));
    try {
      await expect(loadDashboardAssets(empty)).rejects.toThrow(/no index.html .*npm run build:web/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
