import { readdir } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIGRATIONS_DIR, migrate } from '#db/migrate.js';
import { createTestDatabase } from '../support/database.js';

describe('migrations', () => {
  let url: string;
  let client: pg.Client;

  beforeAll(async () => {
    url = await createTestDatabase('migrations');
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });
  afterAll(async () => client.end());

  it('creates the tables, views and roles of the contract', async () => {
    const relations = await client.query<{ relname: string; relkind: string }>(
      `SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1`,
    );
    expect(relations.rows).toEqual(
      expect.arrayContaining([
        { relname: 'sensor_readings', relkind: 'r' },
        { relname: 'sensor_errors', relkind: 'r' },
        { relname: 'sensor_aggregations', relkind: 'r' },
        { relname: 'latest_sensor_status', relkind: 'v' },
        { relname: 'hourly_sensor_summary', relkind: 'v' },
        { relname: 'dq_error_rate', relkind: 'v' },
      ]),
    );
    const roles = await client.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'iot\\_%' ORDER BY 1`);
    // Every role the migrations create, and none of them may log in (grants only).
    expect(roles.rows.map((r) => r.rolname)).toEqual(
      expect.arrayContaining(['iot_aggregation', 'iot_dq', 'iot_ingest', 'iot_readonly']),
    );
  });

  it('is safe to run twice and concurrently: each migration applies once', async () => {
    const results = await Promise.all([migrate({ database: url }), migrate({ database: url })]);
    expect(results.flat()).toEqual([]);
    const applied = await client.query('SELECT name FROM pgmigrations');
    expect(applied.rowCount).toBeGreaterThan(0);
    expect(new Set(applied.rows.map((r) => r.name)).size).toBe(applied.rowCount);
  });

  it('applies pending migrations on an empty database exactly once under concurrency', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const fresh = `fresh_${Date.now()}`;
    await admin.query(`CREATE DATABASE ${fresh}`);
    await admin.end();
    const freshUrl = new URL(url);
    freshUrl.pathname = `/${fresh}`;
    const [a, b] = await Promise.all([
      migrate({ database: freshUrl.toString() }),
      migrate({ database: freshUrl.toString() }),
    ]);
    const files = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'));
    // One caller applied everything, the other waited on the lock and found nothing to do.
    expect([...a, ...b].sort()).toEqual(files.map((f) => f.replace(/\.sql$/, '')).sort());
    expect(await migrate({ database: freshUrl.toString() })).toEqual([]);
  });
});
