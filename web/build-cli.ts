/**
 * `npm run build:web [-- DIR]`: writes the dashboard's files to DIR (default web/dist, which git
 * ignores) and prints each file's size, raw and gzipped, so the page weight is visible.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildDashboardAssets, writeDashboardAssets } from './build.js';

const defaultDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
const dir = path.resolve(process.argv[2] ?? defaultDir);
const assets = await buildDashboardAssets();
await writeDashboardAssets(dir, assets);
for (const [urlPath, asset] of assets) {
  if (urlPath === '/') continue;
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(
    `${urlPath.padEnd(34)} ${kb(asset.body.byteLength).padStart(9)}  gzip ${kb(gzipSync(asset.body).byteLength)}`,
  );
}
console.log(`written to ${dir}`);
