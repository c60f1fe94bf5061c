/**
 * The query API and the dashboard as a door of `npm start` (a StackService, runtime/service.ts):
 * the same Hono app the `api` Lambda serves, in a Node server on its own port; a local read token
 * created at the first start (shown once in the log, kept in `<state>/api-token` and put in the
 * READY line and endpoints.json as `apiToken`); a database login of its own in the `iot_api` role
 * (runtime/api-login.ts), not the superuser; the health gauges of the local host
 * (runtime/api-gauges.ts); and the alert notifier, which consumes the alert topic's local
 * subscription queue (ALERT lines in the status output, `<state>/alerts.jsonl`, e-mail with an
 * SMTP URL).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import type { StaticAsset } from '#adapters/http/app.js';
import { serveApi } from '#adapters/http/node-server.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { readApiSettings } from '#config/api.js';
import { composeApi } from '#lambdas/api/compose.js';
import { createToken, revokeToken } from '#pipeline/api-tokens.js';
import { type AlertNotifier, startAlertNotifier } from './alert-notifier.js';
import { localGauges } from './api-gauges.js';
import { ensureApiLogin } from './api-login.js';
import type { ServiceContext, StackService } from './service.js';

export interface ApiServiceOptions {
  /** 0 asks the OS for a free port. */
  readonly port: number;
  /** smtp://host:port: e-mail each alert (`npm start -- --smtp URL`). */
  readonly smtpUrl?: string | undefined;
  /** Where the API's settings are read from (src/config/api.ts); the process environment by default. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

export const LOCAL_TOKEN_FILE = 'api-token';
/** The API's connections in pg_stat_activity. */
export const API_APPLICATION_NAME = 'iot-first-api';
const LOCAL_TOKEN_NAME = 'local-dashboard';

/** The dashboard's built files when the web/ build step is present (h-dash's web/build.ts). */
async function dashboardAssets(): Promise<ReadonlyMap<string, StaticAsset> | undefined> {
  const build = fileURLToPath(new URL('../web/build.ts', import.meta.url));
  if (!existsSync(build)) return undefined;
  const module = (await import(pathToFileURL(build).href)) as {
    buildDashboardAssets?: () => Promise<ReadonlyMap<string, StaticAsset>>;
  };
  return module.buildDashboardAssets?.();
}

/**
 * The local read token: created once per state folder; later starts reuse it. When the file is
 * gone but the database kept its token (a new state folder on an existing `DATABASE_URL`, or a
 * deleted `.iot-first/` while root's data stays in /var/tmp), that token can never be shown again:
 * it is revoked and a new one made, instead of failing on the one-active-token-per-name rule.
 */
async function localToken(pool: pg.Pool, stateDir: string, log: (line: string) => void): Promise<string> {
  const file = path.join(stateDir, LOCAL_TOKEN_FILE);
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (kept) return kept;
  const store = new PostgresTokenStore(pool);
  const revoked = await revokeToken(store, LOCAL_TOKEN_NAME);
  if (revoked.length > 0) log(`revoked the previous local API token: its file ${file} is gone`);
  const { token } = await createToken(store, { name: LOCAL_TOKEN_NAME, scope: 'read' });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  log(`created a local API read token (shown once; also in ${file}): ${token}`);
  return token;
}

/**
 * The API's own login (runtime/api-login.ts). A database the stack was given whose user may not
 * create roles keeps the stack's user, and says so: the API then runs with more rights than on AWS.
 */
async function apiDatabaseUrl(context: ServiceContext): Promise<string> {
  try {
    return await ensureApiLogin(context.endpoints.databaseUrl, context.stateDir);
  } catch (error) {
    context.log(
      `query API: cannot make its own iot_api login (${(error as Error).message}); it connects as the stack's database user`,
    );
    return context.endpoints.databaseUrl;
  }
}

export function apiService(options: ApiServiceOptions): StackService {
  return {
    name: 'query API',
    async start(context) {
      const pool = new pg.Pool({
        connectionString: await apiDatabaseUrl(context),
        max: 8,
        application_name: API_APPLICATION_NAME,
      });
      let notifier: AlertNotifier | undefined;
      let server: Awaited<ReturnType<typeof serveApi>> | undefined;
      // An idle connection the server drops (a PostgreSQL restart) makes the pool emit 'error';
      // unheard, it crashed the whole stack (found by the soak). The pool replaces the client.
      pool.on('error', (error) => context.log(`query API database connection: ${error.message}`));
      try {
        const token = await localToken(pool, context.stateDir, context.log);
        const app = composeApi({
          pool,
          settings: readApiSettings({ ...(options.env ?? process.env) }),
          gauges: localGauges(context),
          staticAssets: await dashboardAssets(),
          log: () => undefined,
        });
        server = await serveApi(app, { port: options.port, hostname: context.listenHost });
        notifier = await startAlertNotifier({
          sqs: context.sqs,
          queueUrl: context.endpoints.alertQueueUrl,
          stateDir: context.stateDir,
          smtpUrl: options.smtpUrl,
          onLine: context.log,
          onError: (error) => context.log(`alert notifier: ${error.message}`),
        });
        const base = server.url;
        const running = { server, notifier };
        return {
          endpoints: { apiEndpoint: `${base}/api`, dashboardUrl: `${base}/`, apiToken: token },
          statusLines: () => [`dashboard    ${base}/   API ${base}/api (token in ${LOCAL_TOKEN_FILE})`],
          stop: async () => {
            await running.notifier.stop();
            await running.server.close();
            await pool.end();
          },
        };
      } catch (error) {
        await notifier?.stop();
        await server?.close();
        await pool.end();
        throw error;
      }
    },
  };
}
