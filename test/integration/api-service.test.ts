/**
 * The query API as a door of the local stack (runtime/api-service.ts), started with the parts of
 * the service context it uses: a local read token created at the first start and shown once,
 * reused by the next start; the API answering on its own port with that token.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PASSWORD_FILE, apiLoginName } from '#runtime/api-login.js';
import { API_APPLICATION_NAME, apiService, LOCAL_TOKEN_FILE } from '#runtime/api-service.js';
import type { ServiceContext } from '#runtime/service.js';
import { createTestDatabase } from '../support/database.js';

let databaseUrl: string;
let stateDir: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('api_service');
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-api-service-'));
});
afterAll(async () => {
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

function context(lines: string[]): ServiceContext {
  // Only what the API service reads; the rest of the context belongs to other doors.
  return {
    endpoints: { databaseUrl },
    stateDir,
    listenHost: '127.0.0.1',
    log: (line: string) => lines.push(line),
  } as unknown as ServiceContext;
}

describe('query API door', () => {
  it('creates a local read token once, serves the API with it, and reuses it on the next start', async () => {
    const lines: string[] = [];
    const first = await apiService({ port: 0 }).start(context(lines));
    const { apiEndpoint, dashboardUrl, apiToken } = first.endpoints as Record<string, string>;
    try {
      expect(apiEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
      expect(dashboardUrl).toBe(apiEndpoint?.replace(/api$/, ''));
      expect(lines.filter((l) => l.includes(apiToken ?? '-'))).toHaveLength(1);
      const ok = await fetch(`${apiEndpoint}/sensors`, { headers: { authorization: `Bearer ${apiToken}` } });
      expect(ok.status).toBe(200);
      expect((await fetch(`${apiEndpoint}/sensors`)).status).toBe(401);
      expect(first.statusLines?.()[0]).toContain(dashboardUrl);
    } finally {
      await first.stop();
    }
    const again: string[] = [];
    const second = await apiService({ port: 0 }).start(context(again));
    try {
      expect(second.endpoints.apiToken).toBe(apiToken);
      expect(again.some((l) => l.includes(apiToken ?? '-'))).toBe(false);
    } finally {
      await second.stop();
    }
  });

  it('makes a new token when the state folder lost its file but the database kept the old one, and revokes the old', async () => {
    const first = await apiService({ port: 0 }).start(context([]));
    const oldToken = first.endpoints.apiToken as string;
    await first.stop();
    await rm(path.join(stateDir, LOCAL_TOKEN_FILE));

    const lines: string[] = [];
    const second = await apiService({ port: 0 }).start(context(lines));
    try {
      const { apiEndpoint, apiToken } = second.endpoints as Record<string, string>;
      expect(apiToken).not.toBe(oldToken);
      expect(lines.some((l) => l.includes('revoked the previous local API token'))).toBe(true);
      const withNew = await fetch(`${apiEndpoint}/sensors`, { headers: { authorization: `Bearer ${apiToken}` } });
      expect(withNew.status).toBe(200);
      const withOld = await fetch(`${apiEndpoint}/sensors`, { headers: { authorization: `Bearer ${oldToken}` } });
      expect(withOld.status).toBe(401);
    } finally {
      await second.stop();
    }
  });

  it('connects as a login of the iot_api role, which serves the fleet but may not write readings', async () => {
    const lines: string[] = [];
    const door = await apiService({ port: 0 }).start(context(lines));
    const admin = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const { apiEndpoint, apiToken } = door.endpoints as Record<string, string>;
      const fleet = await fetch(`${apiEndpoint}/sensors`, { headers: { authorization: `Bearer ${apiToken}` } });
      expect(fleet.status).toBe(200);
      // The API's own connections are the login's, not the superuser's.
      const database = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? '';
      const login = apiLoginName(database);
      const users = await admin.query<{ usename: string }>(
        'SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
        [API_APPLICATION_NAME, database],
      );
      expect(users.rows.map((r) => r.usename)).toEqual([login]);
      const member = await admin.query<{ member: boolean; superuser: boolean }>(
        `SELECT pg_has_role($1, 'iot_api', 'MEMBER') AS member, rolsuper AS superuser FROM pg_roles WHERE rolname = $1`,
        [login],
      );
      expect(member.rows[0]).toEqual({ member: true, superuser: false });

      // Its password is generated and kept in the state folder (owner-only), never logged.
      const file = path.join(stateDir, API_PASSWORD_FILE);
      const password = (await readFile(file, 'utf8')).trim();
      expect(password.length).toBeGreaterThanOrEqual(32);
      expect((await stat(file)).mode & 0o077).toBe(0);
      expect(lines.some((l) => l.includes(password))).toBe(false);

      // Connected as that login: reading works, writing readings is refused.
      const url = new URL(databaseUrl);
      url.username = login;
      url.password = password;
      const asApi = new pg.Client({ connectionString: url.toString() });
      await asApi.connect();
      try {
        expect((await asApi.query('SELECT count(*) FROM sensor_latest')).rowCount).toBe(1);
        const insert = asApi.query(
          `INSERT INTO sensor_readings (sensor_id) SELECT sensor_id FROM sensor_readings WHERE false`,
        );
        await expect(insert).rejects.toMatchObject({ code: '42501' });
        await expect(asApi.query('DELETE FROM api_tokens')).rejects.toMatchObject({ code: '42501' });
      } finally {
        await asApi.end();
      }
    } finally {
      await admin.end();
      await door.stop();
    }
  });
});
