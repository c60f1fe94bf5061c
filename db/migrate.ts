/**
 * The one migration runner, used by the tests, the embedded stack and the CDK deploy's custom
 * resource. node-pg-migrate records what it applied in `pgmigrations` and holds an advisory
 * lock while it runs, so running it twice, or from two processes at once, applies each
 * migration exactly once (the second caller waits, then finds nothing to do).
 */

import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';

export interface MigrateOptions {
  /** Connection string, or a connected client (the caller keeps ownership of it). */
  readonly database: string | pg.ClientBase;
  /** Folder of SQL migrations; defaults to `db/migrations` beside this module. */
  readonly dir?: string;
  readonly log?: (message: string) => void;
}

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/** Applies every pending migration; returns the names of those applied by this call. */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const connection =
    typeof options.database === 'string' ? { databaseUrl: options.database } : { dbClient: options.database };
  const applied = await runner({
    ...connection,
    dir: options.dir ?? DEFAULT_MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    advisoryLockMode: 'wait',
    checkOrder: true,
    singleTransaction: true,
    log: options.log ?? (() => undefined),
  });
  return applied.map((m) => m.name);
}
