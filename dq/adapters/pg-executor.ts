/**
 * The PostgreSQL adapter of the runner: runs each check's statement in its own READ ONLY
 * transaction with a statement timeout. Read-only because check files hold free SQL (filters,
 * fail queries) that must never be able to change data; one transaction per check because a
 * failing check must not abort the others (a failed statement poisons its transaction).
 */
import type pg from 'pg';
import type { SqlExecutor } from '#dq/core/runner.js';
import type { SqlQuery } from '#dq/core/sql.js';

export interface PgExecutorOptions {
  /** Per statement; a check stuck on a lock or a huge scan becomes an error, not a hang. */
  readonly statementTimeoutMs?: number;
}

export function pgExecutor(client: pg.ClientBase, options: PgExecutorOptions = {}): SqlExecutor {
  const timeout = Math.max(1, Math.trunc(options.statementTimeoutMs ?? 60_000));
  return {
    async query(sql: SqlQuery) {
      await client.query('BEGIN TRANSACTION READ ONLY');
      try {
        // SET does not take parameters; the value is an integer we produced, not user input.
        await client.query(`SET LOCAL statement_timeout = ${timeout}`);
        // Extended protocol even without parameters: it runs exactly one statement, so check SQL
        // such as `SELECT 1; COMMIT; DROP TABLE t` cannot end the read-only transaction.
        // (queryMode is supported by pg but missing from @types/pg.)
        const config: pg.QueryArrayConfig & { queryMode: 'extended' } = {
          text: sql.text,
          values: [...sql.params],
          rowMode: 'array',
          queryMode: 'extended',
        };
        const result = await client.query(config);
        await client.query('COMMIT');
        return result.rows as unknown[][];
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    },
  };
}
