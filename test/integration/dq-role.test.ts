/**
 * The `iot_dq` duty role, as the dq Lambda's deployed user gets it: it can read everything the
 * SodaCL checks in soda/checks read (the whole scan runs as that user with no check in error),
 * it stores its results in `dq_check_results`, and it can write nothing else: every INSERT,
 * UPDATE, DELETE and TRUNCATE on any other table or view of the schema is refused by
 * PostgreSQL's permission check (SQLSTATE 42501).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAggregationStore } from '#adapters/postgres/aggregation-store.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '#domain/reading.js';
import { DEFAULT_CHECKS_DIR, loadCheckFiles } from '#dq/adapters/check-files.js';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { pgResultStore } from '#dq/adapters/pg-result-store.js';
import { runScheduledChecks } from '#dq/core/scheduled-run.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { createTestDatabase } from '../support/database.js';
import { aPosition, aReading, encode } from '../support/factories.js';

let adminUrl: string;
let owner: pg.Pool;
let dq: pg.Pool;
const user = `iot_dq_test_${randomUUID().slice(0, 8)}`;
const PASSWORD = `pw-${randomUUID()}`;

beforeAll(async () => {
  adminUrl = await createTestDatabase('dq_role');
  owner = new pg.Pool({ connectionString: adminUrl, max: 1 });
  await owner.query(`CREATE ROLE ${user} LOGIN PASSWORD '${PASSWORD}' IN ROLE iot_dq`);
  const url = new URL(adminUrl);
  url.username = user;
  url.password = PASSWORD;
  dq = new pg.Pool({ connectionString: url.toString(), max: 1 });
  // Rows in every table the checks read, so a check reads something rather than an empty table.
  const now = new Date();
  const batch = classifyBatch(
    [aReading({ sensor_id: 'dq-1', timestamp: now.toISOString() }), aReading({ sensor_id: 'dq-2' }), 'not json'].map(
      (p) => ({ data: encode(p), position: aPosition() }),
    ),
    { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now },
  );
  const store = new PostgresPipelineStore(owner);
  await store.insertReadings(batch.rows);
  await store.insertErrors(batch.rejections);
  await new PostgresAggregationStore(owner).recomputeMarkedWindows(1_000);
});
afterAll(async () => {
  await dq?.end();
  await owner?.query(`DROP OWNED BY ${user}; DROP ROLE ${user}`);
  await owner?.end();
});

describe('the iot_dq role', () => {
  it('runs every check in soda/checks and stores every result, with no check in error', async () => {
    for (const table of ['sensor_readings', 'sensor_errors', 'sensor_aggregations']) {
      const rows = await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      expect(rows.rows[0]?.n, table).toBeGreaterThan(0);
    }
    const files = await loadCheckFiles([DEFAULT_CHECKS_DIR], DEFAULT_CHECKS_DIR);
    const client = await dq.connect();
    let summary: Awaited<ReturnType<typeof runScheduledChecks>>['summary'];
    let errors: string[];
    try {
      const run = await runScheduledChecks({
        runId: 'dq-role-test',
        files,
        executor: pgExecutor(client),
        store: pgResultStore(client),
      });
      summary = run.summary;
      errors = [
        ...run.scan.results.filter((r) => r.outcome === null || r.error).map((r) => `${r.name}: ${r.error}`),
        ...run.scan.errors.map((e) => e.message),
      ];
    } finally {
      client.release();
    }
    expect(errors).toEqual([]);
    expect(summary.errored).toBe(0);
    expect(summary.checks).toBeGreaterThan(10);
    const stored = await owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM dq_check_results WHERE run_id = 'dq-role-test'",
    );
    expect(stored.rows[0]?.n).toBe(summary.checks);
  });

  it('writes nothing but dq_check_results: every other table and view refuses INSERT, UPDATE, DELETE, TRUNCATE', async () => {
    const relations = await owner.query<{ name: string; kind: string; col: string }>(
      `SELECT c.relname AS name, c.relkind AS kind,
              (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 AND a.attidentity = '' AND a.attgenerated = ''
               ORDER BY a.attnum LIMIT 1) AS col
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p') AND c.relname <> 'dq_check_results'
       ORDER BY 1`,
    );
    // The pipeline's tables and views are all there (a filter that found nothing would prove nothing).
    expect(relations.rows.map((r) => r.name)).toEqual(
      expect.arrayContaining(['sensor_readings', 'sensor_errors', 'sensor_aggregations', 'latest_sensor_status']),
    );
    const allowed: string[] = [];
    for (const { name, kind, col } of relations.rows) {
      const t = `"${name}"`;
      const statements = [
        `INSERT INTO ${t} DEFAULT VALUES`,
        `UPDATE ${t} SET "${col}" = "${col}"`,
        `DELETE FROM ${t}`,
        ...(kind === 'r' || kind === 'p' ? [`TRUNCATE ${t}`] : []),
      ];
      // A view no rule makes updatable refuses writes from anyone (55000) before privileges are
      // checked: for views the grants themselves are what is asserted.
      for (const privilege of ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) {
        const granted = await dq.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2) AS ok', [
          `public.${t}`,
          privilege,
        ]);
        if (granted.rows[0]?.ok !== false) allowed.push(`${privilege} on ${name} granted`);
      }
      if (kind === 'v') continue;
      for (const sql of statements) {
        const code = await dq.query(sql).then(
          () => 'allowed',
          (error: { code?: string }) => error.code,
        );
        if (code !== '42501') allowed.push(`${sql}: ${code}`);
      }
    }
    expect(allowed).toEqual([]);
    // Its own table: results are stored and replaced (a retried run), never deleted.
    await expect(dq.query('DELETE FROM dq_check_results')).rejects.toMatchObject({ code: '42501' });
    await expect(dq.query('UPDATE dq_check_results SET error = error')).resolves.toBeTruthy();
  });
});
