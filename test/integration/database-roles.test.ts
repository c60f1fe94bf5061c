/**
 * Every use case runs as its deployed duty role, not as the superuser the rest of the suite
 * uses: a missing grant would otherwise show up only after `cdk deploy`.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '#domain/reading.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { createTestDatabase } from '../support/database.js';
import { aPosition, aReading, encode } from '../support/factories.js';

let adminUrl: string;
const pools: pg.Pool[] = [];
const users: string[] = [];
const PASSWORD = `pw-${randomUUID()}`;

/** A login user that is a member of `role`, as the CDK deploy creates one per function. */
async function poolAs(role: string): Promise<pg.Pool> {
  const user = `${role}_test_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${PASSWORD}' IN ROLE ${role}`);
  await admin.end();
  users.push(user);
  const url = new URL(adminUrl);
  url.username = user;
  url.password = PASSWORD;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pools.push(pool);
  return pool;
}

function batch(payloads: unknown[]) {
  return classifyBatch(
    payloads.map((p) => ({ data: encode(p), position: aPosition() })),
    { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now: new Date() },
  );
}

beforeAll(async () => {
  adminUrl = await createTestDatabase('roles');
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const user of users) await admin.query(`DROP OWNED BY ${user}; DROP ROLE ${user}`);
  await admin.end();
});

describe('duty roles', () => {
  it('iot_ingest stores readings (COPY and the redelivery path) and rejections, marking windows', async () => {
    const store = new PostgresPipelineStore(await poolAs('iot_ingest'));
    const b = batch([aReading({ sensor_id: 'r1' }), aReading({ sensor_id: 'r2' }), 'not json']);
    expect((await store.insertReadings(b.rows)).inserted).toBe(2);
    expect(await store.insertReadings(b.rows)).toMatchObject({ inserted: 0, duplicates: 2 });
    expect((await store.insertErrors(b.rejections)).inserted).toBe(1);
  });

  it('iot_aggregation claims marks and upserts windows', async () => {
    const ingest = new PostgresPipelineStore(await poolAs('iot_ingest'));
    await ingest.insertReadings(batch([aReading({ sensor_id: 'agg-1' })]).rows);
    const aggregation = new PostgresAggregationStore(await poolAs('iot_aggregation'));
    const first = await aggregation.recomputeMarkedWindows(1_000);
    expect(first.windows).toBeGreaterThanOrEqual(1);
    expect(await aggregation.recomputeMarkedWindows(1_000)).toEqual({ claimed: 0, windows: 0, readings: 0 });
  });

  it('iot_readonly reads every table and view but writes nothing', async () => {
    const readonly = await poolAs('iot_readonly');
    const owner = new pg.Pool({ connectionString: adminUrl, max: 1 });
    pools.push(owner);
    // The tests above stored readings and windows: an empty answer would prove nothing.
    expect(
      Number((await owner.query<{ n: string }>('SELECT count(*) AS n FROM sensor_readings')).rows[0]?.n),
    ).toBeGreaterThan(0);
    for (const relation of [
      'sensor_readings',
      'sensor_errors',
      'sensor_aggregations',
      'latest_sensor_status',
      'hourly_sensor_summary',
      'dq_error_rate',
    ]) {
      // What the role reads is what is there (row-level rules or a wrong grant would differ).
      const seen = await readonly.query<{ n: string }>(`SELECT count(*) AS n FROM ${relation}`);
      const there = await owner.query<{ n: string }>(`SELECT count(*) AS n FROM ${relation}`);
      expect(seen.rows, relation).toEqual(there.rows);
    }
    await expect(readonly.query('DELETE FROM sensor_readings')).rejects.toMatchObject({ code: '42501' });
  });

  it('iot_ingest cannot touch aggregations or delete readings', async () => {
    const ingest = await poolAs('iot_ingest');
    await expect(ingest.query('DELETE FROM sensor_readings')).rejects.toMatchObject({ code: '42501' });
    await expect(ingest.query('DELETE FROM sensor_aggregations')).rejects.toMatchObject({ code: '42501' });
  });
});
