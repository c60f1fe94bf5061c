/**
 * The dashboard's build step. esbuild bundles the page's TypeScript (and uPlot with its CSS)
 * in memory, so `npm start` builds it once at server start and nothing prebuilt is committed.
 * The Lambda bundle cannot run esbuild at cold start, so the CDK wiring writes the same files
 * into the function's asset with `writeDashboardAssets` and the handler reads them back with
 * `loadDashboardAssets`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file of the page, as the API app serves it (URL path -> file). */
export interface DashboardAsset {
  contentType: string;
  body: Uint8Array;
}

export type DashboardAssets = ReadonlyMap<string, DashboardAsset>;

const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = path.join(WEB_DIR, 'src', 'main.ts');
const HTML_TEMPLATE = path.join(WEB_DIR, 'src', 'index.html');

/**
 * The bundle's URL path: its name carries a hash of its content, so a server may let browsers
 * cache it (the API app does, for five minutes) and a new build is never mixed with an old page.
 */
function hashedPath(name: string, extension: string, body: Uint8Array): string {
  return `/assets/${name}-${createHash('sha256').update(body).digest('hex').slice(0, 10)}${extension}`;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
}

/**
 * Bundles the page and returns every file it needs, keyed by URL path. `/` and `/index.html`
 * are the same page, so the server can look either up directly.
 */
export async function buildDashboardAssets(options: { minify?: boolean } = {}): Promise<DashboardAssets> {
  // esbuild is a build-time tool: imported here, never by the running API handler.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { dashboard: ENTRY },
    bundle: true,
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    write: false,
    outdir: path.join(WEB_DIR, 'dist', 'assets'),
    logLevel: 'silent',
  });
  const byExtension = new Map(result.outputFiles.map((file) => [path.extname(file.path), file.contents]));
  const script = byExtension.get('.js');
  const style = byExtension.get('.css');
  if (!script || !style) throw new Error('dashboard build produced no script or no stylesheet');
  const scriptPath = hashedPath('dashboard', '.js', script);
  const stylePath = hashedPath('dashboard', '.css', style);
  const template = await readFile(HTML_TEMPLATE, 'utf8');
  const html = Buffer.from(
    // Relative references: the page is at `/` locally and at `/<stage>/` behind API Gateway.
    template
      .replace('%SCRIPT%', scriptPath.slice(1))
      .replace('%STYLE%', stylePath.slice(1))
      .replace('%FAVICON%', FAVICON),
    'utf8',
  );
  const page: DashboardAsset = { contentType: contentTypeOf('index.html'), body: html };
  return new Map<string, DashboardAsset>([
    ['/', page],
    ['/index.html', page],
    [scriptPath, { contentType: contentTypeOf(scriptPath), body: script }],
    [stylePath, { contentType: contentTypeOf(stylePath), body: style }],
  ]);
}

/** An inline SVG favicon (a data URL), so the browser does not ask for /favicon.ico. */
const FAVICON = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#22c55e"/></svg>',
)}`;

/** The file name an asset is written under; `/` is the same page as /index.html and not written twice. */
function fileNameOf(urlPath: string): string | undefined {
  if (urlPath === '/') return undefined;
  return urlPath.replace(/^\/+/, '');
}

/**
 * Writes the assets under `dir` (for the Lambda bundle, or `npm run build:web`). The folder
 * should be empty or hold only an earlier build: `loadDashboardAssets` serves every file in it.
 */
export async function writeDashboardAssets(dir: string, assets?: DashboardAssets): Promise<string[]> {
  const files = assets ?? (await buildDashboardAssets());
  await rm(path.join(dir, 'assets'), { recursive: true, force: true });
  const written: string[] = [];
  for (const [urlPath, asset] of files) {
    const name = fileNameOf(urlPath);
    if (name === undefined) continue;
    const target = path.join(dir, name);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, asset.body);
    written.push(target);
  }
  return written;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      return entry.isDirectory() ? listFiles(dir, relative) : Promise.resolve([relative]);
    }),
  );
  return nested.flat();
}

/** Reads back what `writeDashboardAssets` wrote, in the same shape `buildDashboardAssets` returns. */
export async function loadDashboardAssets(dir: string): Promise<DashboardAssets> {
  const assets = new Map<string, DashboardAsset>();
  for (const relative of await listFiles(dir)) {
    const body = new Uint8Array(await readFile(path.join(dir, relative)));
    assets.set(`/${relative}`, { contentType: contentTypeOf(relative), body });
  }
  const page = assets.get('/index.html');
  if (!page) throw new Error(`no index.html in ${dir}: run npm run build:web first`);
  assets.set('/', page);
  return assets;
}
