/**
 * One real PostgreSQL server for the whole run, with a migrated template database. Each test
 * file clones the template (CREATE DATABASE … TEMPLATE, milliseconds) so files never share
 * state. The server runs on a free port with its own temporary data folder.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrate } from '#db/migrate.js';
import { ensureDatabase, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import { freePort } from './free-port.js';

export const TEMPLATE_DATABASE = 'iot_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplateDatabase: string;
  }
}

/**
 * With TEST_DATABASE_URL (a role allowed to CREATE DATABASE), the run uses that server instead
 * of starting one; the template gets a name of its own so parallel runs never share it.
 */
async function useExistingServer(project: TestProject, adminUrl: string): Promise<() => Promise<void>> {
  const template = `iot_template_${process.pid}_${Date.now()}`;
  await ensureDatabase(adminUrl, template);
  const url = new URL(adminUrl);
  url.pathname = `/${template}`;
  await migrate({ database: url.toString() });
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplateDatabase', template);
  return async () => undefined;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_DATABASE_URL) return useExistingServer(project, process.env.TEST_DATABASE_URL);
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-test-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const server = await startEmbeddedPostgres({ stateDir, port: await freePort(), persistent: false });
      await ensureDatabase(server.adminUrl, TEMPLATE_DATABASE);
      await migrate({ database: server.urlFor(TEMPLATE_DATABASE) });
      project.provide('pgAdminUrl', server.adminUrl);
      project.provide('pgTemplateDatabase', TEMPLATE_DATABASE);
      return async () => {
        await server.stop();
        await removeStateDir(stateDir);
      };
    } catch (error) {
      // A port taken between asking for it and binding it: ask again.
      lastError = error;
    }
  }
  await removeStateDir(stateDir);
  throw lastError;
}
