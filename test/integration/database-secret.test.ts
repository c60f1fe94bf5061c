/**
 * Database credentials from a Secrets Manager secret. No Secrets Manager runs here (fauxqs and
 * kinesalite do not emulate it), so a minimal HTTP endpoint answers GetSecretValue in the
 * service's JSON protocol; everything else is real: the AWS SDK client, PostgreSQL, its users.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPool,
  type DatabaseSource,
  DatabaseUserRotatedError,
  databaseSourceFromEnv,
  sharedPool,
} from '#adapters/postgres/pool.js';
import { ConfigurationError } from '#config/env.js';
import { createTestDatabase } from '../support/database.js';
import { waitFor } from '../support/runtime-stack.js';

let secretString = '';
/** GetSecretValue calls the stand-in answered for the configured secret. */
let secretReads = 0;
let server: http.Server;
let endpoint: string;
let databaseUrl: URL;
const roles: string[] = [];

async function loginRole(): Promise<{ username: string; password: string }> {
  const username = `secret_user_${randomUUID().slice(0, 8)}`;
  const password = randomUUID();
  const admin = new pg.Client({ connectionString: databaseUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE ROLE ${username} LOGIN PASSWORD '${password}' IN ROLE iot_readonly`);
  await admin.end();
  roles.push(username);
  return { username, password };
}

function rdsSecret(user: { username: string; password: string }, host = databaseUrl.hostname): string {
  return JSON.stringify({
    ...user,
    host,
    port: Number(databaseUrl.port),
    dbname: databaseUrl.pathname.slice(1),
    engine: 'postgres',
  });
}

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:iot-db';

const source = (ttl?: number, secretArn = SECRET_ARN): DatabaseSource => ({
  kind: 'secret',
  secretArn,
  region: 'us-east-1',
  endpoint,
  ssl: false,
  ...(ttl === undefined ? {} : { secretTtlMs: ttl }),
});

beforeAll(async () => {
  databaseUrl = new URL(await createTestDatabase('secret'));
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  // Answers GetSecretValue for the one secret that exists, as the service does: any other
  // SecretId is ResourceNotFoundException, so a pool that asked for the wrong ARN fails here too.
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      const asked = (JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string }).SecretId;
      const [status, body] =
        target !== 'secretsmanager.GetSecretValue'
          ? [400, { __type: 'InvalidRequestException' }]
          : asked !== SECRET_ARN
            ? [
                400,
                { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
              ]
            : [200, { ARN: SECRET_ARN, Name: 'iot-db', SecretString: secretString }];
      if (status === 200) secretReads++;
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  const admin = new pg.Client({ connectionString: databaseUrl.toString() });
  await admin.connect();
  for (const role of roles) await admin.query(`DROP ROLE ${role}`);
  await admin.end();
});

describe('database credentials from Secrets Manager', () => {
  it('connects as the user the secret names', async () => {
    const user = await loginRole();
    secretString = rdsSecret(user);
    const pool = await createPool(source());
    try {
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(user.username);
    } finally {
      await pool.end();
    }
  });

  it("fails with the service's error when the configured ARN names no secret", async () => {
    secretString = rdsSecret(await loginRole());
    await expect(createPool(source(undefined, `${SECRET_ARN}-other`))).rejects.toThrow(
      /can't find the specified secret/,
    );
  });

  it('refuses a secret that is not JSON without quoting any of it', async () => {
    secretString = 'S3cretPw!';
    const attempt = createPool(source());
    await expect(attempt).rejects.toThrow(ConfigurationError);
    await expect(attempt).rejects.not.toThrow(/S3cret/);
  });

  it('names the missing fields of a secret, never their values', async () => {
    secretString = JSON.stringify({ username: 'u', password: 'hunter2-secret' });
    await expect(createPool(source())).rejects.toThrow(/lacks host/);
    await expect(createPool(source())).rejects.not.toThrow(/hunter2/);
  });

  it('notices a multi-user rotation to another user instead of failing every connection', async () => {
    const first = await loginRole();
    const clone = await loginRole();
    secretString = rdsSecret(first);
    const pool = await createPool(source(0));
    try {
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(first.username);
      secretString = rdsSecret(clone);
      // Drop the idle connection, so the next query opens a new one and reads the secret again.
      (await pool.connect()).release(true);
      await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUserRotatedError);
    } finally {
      await pool.end();
    }
  });
});

/** A single-user rotation as Secrets Manager's rotation function does it: the database first, then the secret. */
async function rotatePassword(user: {
  username: string;
  password: string;
}): Promise<{ username: string; password: string }> {
  const rotated = { username: user.username, password: randomUUID() };
  const admin = new pg.Client({ connectionString: databaseUrl.toString() });
  await admin.connect();
  await admin.query(`ALTER ROLE ${user.username} PASSWORD '${rotated.password}'`);
  // Connections opened with the old password stay open; the pool has to open new ones.
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [user.username]);
  await admin.end();
  secretString = rdsSecret(rotated);
  return rotated;
}

/**
 * Waits until the pool has noticed that the server closed its idle connections, so the next
 * query opens a new one (a query racing that notice would fail on the dead connection, which
 * is not what these tests are about).
 */
async function idleConnectionsDropped(pool: pg.Pool): Promise<void> {
  await waitFor(
    async () => pool.idleCount,
    (n) => n === 0,
    10_000,
    'the pool to drop its terminated connections',
  );
}

describe('the secret cache and rotation', () => {
  it('reads the secret once within its time to live, however many connections open', async () => {
    secretString = rdsSecret(await loginRole());
    const before = secretReads;
    const pool = await createPool(source(60 * 60_000));
    try {
      for (let i = 0; i < 3; i++) {
        const client = await pool.connect();
        await client.query('SELECT 1');
        client.release(true);
      }
      expect(secretReads - before).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('reads it again for a new connection once its time to live has passed', async () => {
    const user = await loginRole();
    secretString = rdsSecret(user);
    const ttlMs = 300;
    const pool = await createPool(source(ttlMs));
    try {
      const readAt = Date.now();
      const client = await pool.connect();
      client.release(true);
      const before = secretReads;
      // The condition under test is the clock passing the TTL: wait for exactly that.
      while (Date.now() <= readAt + ttlMs) await new Promise((r) => setTimeout(r, 20));
      // Nothing refused the cached credentials (that would re-read too): only the TTL can.
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(user.username);
      expect(secretReads - before).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('reconnects after a password rotation within the time to live (the database refuses the cached password)', async () => {
    const user = await loginRole();
    secretString = rdsSecret(user);
    const pool = await createPool(source(60 * 60_000));
    try {
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(user.username);
      await rotatePassword(user);
      await idleConnectionsDropped(pool);
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(user.username);
    } finally {
      await pool.end();
    }
  });

  it('the container pool is rebuilt for the new user after a multi-user rotation', async () => {
    const first = await loginRole();
    const clone = await loginRole();
    secretString = rdsSecret(first);
    const env = {
      DB_SECRET_ARN: SECRET_ARN,
      SECRETS_MANAGER_ENDPOINT: endpoint,
      DB_SSL: 'false',
      AWS_REGION: 'us-east-1',
    };
    const saved = { ...process.env };
    delete process.env.DATABASE_URL;
    Object.assign(process.env, env);
    try {
      const pool = await sharedPool();
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(first.username);
      // Alternating users: the secret now names the clone, and the next rotation changes the
      // first user's password, within the cache's time to live (5 minutes by default).
      secretString = rdsSecret(clone);
      const admin = new pg.Client({ connectionString: databaseUrl.toString() });
      await admin.connect();
      await admin.query(`ALTER ROLE ${first.username} PASSWORD '${randomUUID()}'`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [first.username]);
      await admin.end();
      await idleConnectionsDropped(pool);
      await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUserRotatedError);
      const rebuilt = await sharedPool();
      expect(rebuilt).not.toBe(pool);
      expect((await rebuilt.query('SELECT current_user AS u')).rows[0].u).toBe(clone.username);
      await rebuilt.end();
    } finally {
      process.env = saved;
    }
  });

  it('DB_HOST_OVERRIDE replaces the host the secret names (an RDS Proxy endpoint)', async () => {
    const user = await loginRole();
    // A host that cannot resolve: only the override can make this connection work.
    secretString = rdsSecret(user, 'iot-db.cluster.invalid');
    const env = { DB_SECRET_ARN: SECRET_ARN, SECRETS_MANAGER_ENDPOINT: endpoint, DB_SSL: 'false' };
    const overridden = databaseSourceFromEnv({ ...env, DB_HOST_OVERRIDE: databaseUrl.hostname });
    const pool = await createPool(overridden);
    try {
      expect((await pool.query('SELECT current_user AS u')).rows[0].u).toBe(user.username);
    } finally {
      await pool.end();
    }
    const plain = await createPool(databaseSourceFromEnv(env));
    try {
      await expect(plain.query('SELECT 1')).rejects.toThrow(/ENOTFOUND|EAI_AGAIN|getaddrinfo/);
    } finally {
      await plain.end();
    }
  });
});
