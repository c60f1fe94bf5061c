/**
 * Query API Lambda behind API Gateway (REST API, v1 events; hono/aws-lambda also accepts v2):
 * the Hono app of src/adapters/http with the database pool of the container. Dashboard files,
 * when the deploy bundles them (DASHBOARD_DIR, or `dashboard/` beside the bundle), are served at /.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import type { StaticAsset } from '#adapters/http/app.js';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readApiSettings } from '#config/api.js';
import { awsGauges, composeApi } from './compose.js';

const settings = readApiSettings();
databaseSourceFromEnv(); // fail the cold start when no database is configured

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Reads a folder of built dashboard files into the app's static map (URL path -> file). */
export function readAssetDir(dir: string): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const file = path.join(folder, name);
      if (statSync(file).isDirectory()) walk(file);
      else {
        const url = `/${path.relative(dir, file).split(path.sep).join('/')}`;
        const contentType = CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream';
        assets.set(url, { contentType, body: readFileSync(file) });
      }
    }
  };
  walk(dir);
  return assets;
}

function dashboardDir(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.DASHBOARD_DIR) return env.DASHBOARD_DIR;
  const bundled = env.LAMBDA_TASK_ROOT ? path.join(env.LAMBDA_TASK_ROOT, 'dashboard') : undefined;
  return bundled && existsSync(bundled) ? bundled : undefined;
}

const gauges = awsGauges(settings);

let app: Promise<Hono> | undefined;

function appOnce(): Promise<Hono> {
  app ??= sharedPool().then((pool) => {
    const dir = dashboardDir();
    return composeApi({ pool, settings, gauges, staticAssets: dir ? readAssetDir(dir) : undefined });
  });
  app.catch(() => {
    app = undefined;
  });
  return app;
}

type LambdaHandler = ReturnType<typeof handle>;

export const handler: LambdaHandler = (async (...args: Parameters<LambdaHandler>) =>
  handle(await appOnce())(...args)) as LambdaHandler;
