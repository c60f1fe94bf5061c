/**
 * Found by the soak (soak/, fault pg-restart): when PostgreSQL restarted, the query API's pool
 * emitted 'error' for its idle connection and, unheard, the event crashed the whole stack (host,
 * doors, API); nothing was processed after it. Here every connection of the stack is dropped by
 * the server (what a restart does to them) and the stack must still run and answer.
 *
 * The real `npm start` process (runtime/serve.ts) on this file's database, with its own emulators.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.js';
import { LOADED_MACHINE_BOUND_MS, type ServeProcess, spawnServe, waitFor } from '../support/runtime-stack.js';

let serve: ServeProcess | undefined;
let stateDir: string | undefined;

afterAll(async () => {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('the stack when the database drops its connections', () => {
  it(
    'keeps running and answers API requests afterwards',
    async () => {
      const databaseUrl = await createTestDatabase('dropped_conns');
      const database = new URL(databaseUrl).pathname.slice(1);
      stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-dropped-'));
      serve = spawnServe(['--state-dir', stateDir, '--kinesis-port', '0', '--sqs-port', '0'], {
        ...process.env,
        DATABASE_URL: databaseUrl,
      });
      const ready = (await serve.ready) as unknown as Record<string, string>;
      const api = (): Promise<Response> =>
        fetch(`${ready.apiEndpoint}/sensors`, { headers: { authorization: `Bearer ${ready.apiToken}` } });
      // A request leaves an idle connection in the API's pool.
      expect((await api()).status).toBe(200);
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        const dropped = await admin.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [database],
        );
        expect(dropped.rows.length).toBeGreaterThan(0);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[])', [
          dropped.rows.map((r) => r.pid),
        ]);
        // Every dropped connection is gone (its client has heard of it), then the stack must still be there.
        await waitFor(
          async () =>
            (
              await admin.query<{ n: string }>(
                'SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])',
                [dropped.rows.map((r) => r.pid)],
              )
            ).rows[0]?.n,
          (n) => n === '0',
          LOADED_MACHINE_BOUND_MS,
          'the dropped connections to end',
        );
      } finally {
        await admin.end();
      }
      const after = await waitFor(
        () =>
          api().then(
            (r) => r.status,
            () => -1,
          ),
        (status) => status === 200 || serve?.child.exitCode !== null,
        LOADED_MACHINE_BOUND_MS,
        'an API answer after the drop',
      );
      expect({ exitCode: serve.child.exitCode, stderr: serve.stderr().slice(-500), status: after }).toMatchObject({
        exitCode: null,
        status: 200,
      });
    },
    LOADED_MACHINE_BOUND_MS * 2,
  );
});
