/**
 * Shared plumbing of the benchmark: one PostgreSQL server for the whole run (embedded, on a
 * free port, in its own temporary folder, or an existing server given by URL), fresh migrated
 * databases per benchmark, and small statistics helpers.
 *
 * Why one server and many databases: subject and baseline must run against the same server
 * configuration, side by side, and each must start from an identical empty schema (the real
 * migrations, so the same indexes and the same dirty-window trigger), which a
 * `CREATE DATABASE … TEMPLATE` clone gives in milliseconds.
 */

import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { migrate } from '#db/migrate.js';
import { ensureDatabase, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { freePort } from '#runtime/free-port.js';
import { type RunningStack, startStack } from '#runtime/stack.js';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `--import` value that lets a forked child run TypeScript, as the local Lambda host does. */
export const TSX_IMPORT = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export { freePort };

export interface BenchServer {
  /** URL of a new database cloned from the migrated template. */
  createDatabase(label: string): Promise<string>;
  /** Server version string, for the report. */
  readonly version: string;
  /** Settings that shape the figures (shared_buffers, fsync, …), for the report. */
  readonly settings: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const TEMPLATE = 'bench_template';
const REPORTED_SETTINGS = [
  'shared_buffers',
  'work_mem',
  'fsync',
  'synchronous_commit',
  'wal_level',
  'max_wal_size',
  'jit',
];

function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/**
 * Starts the run's PostgreSQL (or attaches to `adminUrl`) and migrates a template database.
 * Databases it creates are dropped by `stop()` when attaching to a server it does not own.
 */
export async function startBenchServer(options: {
  adminUrl?: string | undefined;
  /**
   * Leave the databases on the given server after `stop()`, so a test can count what each
   * benchmark wrote (its owner drops them).
   */
  keepDatabases?: boolean | undefined;
  log?: (line: string) => void;
}): Promise<BenchServer> {
  let adminUrl = options.adminUrl;
  let stopServer: () => Promise<void> = async () => undefined;
  const suffix = Math.random().toString(36).slice(2, 8);
  const template = options.adminUrl ? `${TEMPLATE}_${suffix}` : TEMPLATE;
  if (!adminUrl) {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-bench-'));
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && !adminUrl; attempt++) {
      try {
        const server = await startEmbeddedPostgres({ stateDir, port: await freePort(), persistent: false });
        adminUrl = server.adminUrl;
        stopServer = async () => {
          await server.stop();
          await rm(stateDir, { recursive: true, force: true });
          await rm(path.dirname(server.dataDir), { recursive: true, force: true }).catch(() => undefined);
        };
      } catch (error) {
        lastError = error; // a port taken between asking and binding: ask again
      }
    }
    if (!adminUrl) throw lastError;
  }
  await ensureDatabase(adminUrl, template);
  await migrate({ database: withDatabase(adminUrl, template) });

  const created: string[] = [];
  // One admin connection: creations are queued on it so concurrent callers never overlap queries.
  let queue: Promise<unknown> = Promise.resolve();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const version = (await admin.query<{ v: string }>('SELECT version() AS v')).rows[0]?.v ?? 'unknown';
  const settingsRows = await admin.query<{ name: string; setting: string; unit: string | null }>(
    'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)',
    [REPORTED_SETTINGS],
  );
  const settings = Object.fromEntries(
    settingsRows.rows.map((r) => [r.name, r.unit ? `${r.setting} (${r.unit})` : r.setting]),
  );
  options.log?.(`PostgreSQL: ${version.split(',')[0] ?? version}`);

  return {
    version,
    settings,
    async createDatabase(label) {
      const name = `bench_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${Math.random().toString(36).slice(2, 8)}`;
      const step = queue.then(() =>
        admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)} TEMPLATE ${admin.escapeIdentifier(template)}`),
      );
      queue = step.catch(() => undefined);
      await step;
      created.push(name);
      return withDatabase(adminUrl, name);
    },
    async stop() {
      if (options.adminUrl && !options.keepDatabases) {
        for (const name of [...created, template]) {
          await admin
            .query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`)
            .catch(() => undefined);
        }
      }
      await admin.end().catch(() => undefined);
      await stopServer();
    },
  };
}

/** Nearest-rank percentile of an ascending-sorted sample; NaN for an empty one. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export { sleep } from '#adapters/retry.js';

/** Rounds for display and JSON: rates to integers, ratios and milliseconds to 3 significant places. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 1000) return Math.round(value);
  return Number(value.toPrecision(digits));
}

/** Logs to stderr so the table on stdout stays clean when piped. */
export function logger(quiet: boolean): (line: string) => void {
  return quiet ? () => undefined : (line) => process.stderr.write(`[bench] ${line}\n`);
}

/**
 * The embedded stack as `npm start` runs it, for a benchmark: a database of the run's server, a
 * state folder in the run's log folder (the host's log in it), free ports, and no schedules (the
 * aggregator's minute would land in the middle of a measurement).
 */
export async function startBenchStack(
  server: BenchServer,
  label: string,
  options: {
    readonly logDir: string;
    readonly log: (line: string) => void;
    readonly environment?: Record<string, string>;
  },
): Promise<{ stack: RunningStack; databaseUrl: string; stateDir: string }> {
  const databaseUrl = await server.createDatabase(label);
  const stateDir = path.join(options.logDir, `${label}-${Date.now().toString(36)}`);
  mkdirSync(stateDir, { recursive: true });
  const hostLog = path.join(stateDir, 'host.log');
  options.log(`${label}: starting the embedded stack (logs in ${stateDir})`);
  const stack = await startStack({
    projectRoot: PROJECT_ROOT,
    stateDir,
    databaseUrl,
    ports: { postgres: 0, kinesis: 0, sqs: 0, lambda: 0 },
    host: { enable: { schedules: false } },
    ...(options.environment ? { environment: options.environment } : {}),
    log: (line) => appendFileSync(hostLog, `${line}\n`),
  });
  return { stack, databaseUrl, stateDir };
}
