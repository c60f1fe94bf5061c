/**
 * The query API as a door of the local stack (runtime/api-service.ts), started with the parts of
 * the service context it uses: a local read token created at the first start and shown once,
 * reused by the next start; the API answering on its own port with that token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiService, LOCAL_TOKEN_FILE } from '#runtime/api-service.js';
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
});
