/**
 * `npm run token` as a user runs it (the real CLI in its own process) against a real database:
 * create prints the token once and stores only its hash; list never shows tokens; revoke works by
 * name and by id; bad arguments exit 2 with the usage.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { authorize, hashToken } from '#domain/api-token.js';
import { createTestDatabase } from '../support/database.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

let url: string;
let db: pg.Pool;

function token(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      ['runtime/token.ts', ...args],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: url } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  url = await createTestDatabase('api_token_cli');
  db = new pg.Pool({ connectionString: url, max: 2 });
});
afterAll(async () => db?.end());

describe('npm run token', () => {
  // Each step starts the CLI in a new process (tsx): slow on a loaded machine, hence the timeout.
  it('creates, lists and revokes tokens', { timeout: 240_000 }, async () => {
    const created = await token('create', 'ci-reader', '--expires', '30d');
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^iotf_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown only now');
    const store = new PostgresTokenStore(db);
    const stored = await store.findByHash(hashToken(secret));
    expect(stored).toMatchObject({ name: 'ci-reader', scope: 'read', revokedAt: null });
    expect(Date.parse(stored?.expiresAt ?? '')).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(authorize(hashToken(secret), stored, 'read', Date.now())).toBe('ok');
    expect(authorize(hashToken(secret), stored, 'admin', Date.now())).toBe('forbidden');

    const admin = await token('create', 'ops', '--scope', 'admin');
    expect(admin.code).toBe(0);
    const list = await token('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('ci-reader');
    expect(list.stdout).toMatch(/ops\s+admin/);
    expect(list.stdout).not.toContain(secret);
    expect(list.stdout).not.toContain(admin.stdout.trim());

    const revoked = await token('revoke', 'ci-reader');
    expect(revoked.code).toBe(0);
    const after = await store.findByHash(hashToken(secret));
    expect(after?.revokedAt).not.toBeNull();
    expect(authorize(hashToken(secret), after, 'read', Date.now())).toBe('unauthenticated');
    const opsId = (await store.list()).find((t) => t.name === 'ops')?.tokenId ?? '';
    expect((await token('revoke', opsId)).code).toBe(0);
    expect((await token('revoke', 'ci-reader')).code).toBe(1);
  });

  it('refuses bad arguments with the usage', { timeout: 240_000 }, async () => {
    for (const args of [
      ['create'],
      ['create', 'x', '--scope', 'root'],
      ['create', 'x', '--expires', 'soon'],
      ['frobnicate'],
    ]) {
      const run = await token(...args);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('Usage: npm run token');
    }
  });
});
