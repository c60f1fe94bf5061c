/**
 * db/metadata/*.yml against the migrated schema, and the SodaCL schema checks against the
 * metadata. Fails when a migration changes a table without its metadata (or the reverse), and
 * proves it would by drifting a copy of the schema.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHECKS_DIR } from '#dq/adapters/check-files.js';
import { loadMetadata } from '#dq/adapters/metadata-files.js';
import { type CatalogSnapshot, compareMetadata, type TableMetadata } from '#dq/core/metadata.js';
import { parseCheckFile } from '#dq/core/parser.js';
import { createTestDatabase } from '../support/database.js';

async function snapshot(client: pg.ClientBase): Promise<CatalogSnapshot> {
  const relations = await client.query<{ name: string; kind: 'table' | 'view' }>(`
    SELECT table_name AS name, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS kind
    FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name <> 'pgmigrations'`);
  const columns = await client.query<{ table: string; name: string; type: string; nullable: boolean }>(`
    SELECT table_name AS table, column_name AS name, data_type AS type, is_nullable = 'YES' AS nullable
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name <> 'pgmigrations'
    ORDER BY table_name, ordinal_position`);
  const uniqueIndexes = await client.query<{ table: string; columns: string[]; predicate: string | null }>(`
    SELECT c.relname AS table,
           array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
           pg_get_expr(i.indpred, i.indrelid) AS predicate
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND i.indisunique`);
  const checks = await client.query<{ table: string; columns: string[]; definition: string }>(`
    SELECT c.relname AS table,
           array(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey))::text[] AS columns,
           pg_get_constraintdef(con.oid) AS definition
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND con.contype = 'c'`);
  return { relations: relations.rows, columns: columns.rows, uniqueIndexes: uniqueIndexes.rows, checks: checks.rows };
}

let client: pg.Client;
let metadata: TableMetadata[];

beforeAll(async () => {
  client = new pg.Client({ connectionString: await createTestDatabase('dq_metadata') });
  await client.connect();
  metadata = await loadMetadata();
});

afterAll(async () => {
  await client?.end();
});

describe('db/metadata', () => {
  it('describes every table and view of the migrated schema, exactly', async () => {
    expect(compareMetadata(metadata, await snapshot(client))).toEqual([]);
    expect(metadata.map((m) => m.name)).toEqual(
      expect.arrayContaining([
        'sensor_readings',
        'sensor_errors',
        'sensor_aggregations',
        'aggregation_dirty_windows',
        'dq_check_results',
        'dq_error_rate',
      ]),
    );
  });

  it('reports drift: a new column, a changed nullability, a changed type, a lost unique key', async () => {
    await client.query('BEGIN');
    try {
      await client.query('ALTER TABLE sensor_errors ADD COLUMN extra text');
      await client.query('ALTER TABLE sensor_aggregations ALTER COLUMN unit DROP NOT NULL');
      await client.query('ALTER TABLE aggregation_dirty_windows ALTER COLUMN marks TYPE integer');
      await client.query('DROP INDEX sensor_readings_reading_id_key');
      expect(compareMetadata(metadata, await snapshot(client))).toEqual(
        [
          'sensor_errors.extra: column not in metadata',
          'aggregation_dirty_windows.marks: type is integer, metadata says bigint',
          'sensor_aggregations.unit: nullable is true, metadata says false',
          'sensor_readings: no unique index on (reading_id) WHERE reading_id IS NOT NULL',
        ].sort(
          (a, b) => metadata.findIndex((m) => a.startsWith(m.name)) - metadata.findIndex((m) => b.startsWith(m.name)),
        ),
      );
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('the allowed values of sensor_type and error_type are the CHECK constraints', async () => {
    const readings = metadata.find((m) => m.name === 'sensor_readings')!;
    expect(readings.columns.find((c) => c.name === 'sensor_type')?.allowed_values).toEqual([
      'temperature',
      'humidity',
      'pressure',
    ]);
    await client.query('BEGIN');
    try {
      await client.query('ALTER TABLE sensor_readings DROP CONSTRAINT sensor_readings_sensor_type_check');
      await client.query(
        "ALTER TABLE sensor_readings ADD CONSTRAINT sensor_readings_sensor_type_check CHECK (sensor_type IN ('temperature', 'humidity'))",
      );
      expect(compareMetadata(metadata, await snapshot(client))).toEqual([
        'sensor_readings.sensor_type: CHECK allows [temperature, humidity], metadata says [temperature, humidity, pressure]',
      ]);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

describe('soda/checks agree with the metadata', () => {
  it('each table has a schema check listing exactly its columns and types', async () => {
    const files = (await readdir(DEFAULT_CHECKS_DIR)).filter((f) => f.endsWith('.yml'));
    const schemaChecks = new Map<
      string,
      { required: readonly string[]; types: Readonly<Record<string, string | null>> }
    >();
    for (const f of files) {
      const { file, errors } = parseCheckFile(f, await readFile(path.join(DEFAULT_CHECKS_DIR, f), 'utf8'));
      expect(errors).toEqual([]);
      for (const c of file.checks) {
        if (c.type === 'schema' && c.fail)
          schemaChecks.set(c.dataset!.table, { required: c.fail.requiredMissing, types: c.fail.wrongType });
      }
    }
    for (const table of ['sensor_readings', 'sensor_errors', 'sensor_aggregations']) {
      const meta = metadata.find((m) => m.name === table)!;
      const check = schemaChecks.get(table);
      expect(check, `schema check for ${table}`).toBeDefined();
      expect(check!.required).toEqual(meta.columns.map((c) => c.name));
      expect(check!.types).toEqual(Object.fromEntries(meta.columns.map((c) => [c.name, c.type])));
    }
  });

  it('the enumerations in the checks are the metadata allowed values', async () => {
    const byTable = new Map<string, Map<string, readonly (string | number)[]>>();
    for (const f of (await readdir(DEFAULT_CHECKS_DIR)).filter((x) => x.endsWith('.yml'))) {
      const { file } = parseCheckFile(f, await readFile(path.join(DEFAULT_CHECKS_DIR, f), 'utf8'));
      for (const c of file.checks) {
        if (c.type === 'metric' && c.metric === 'invalid_count' && c.config.validValues) {
          const m = byTable.get(c.dataset!.table) ?? new Map<string, readonly (string | number)[]>();
          m.set(c.columns[0]!, c.config.validValues);
          byTable.set(c.dataset!.table, m);
        }
      }
    }
    const expectations: [string, string][] = [
      ['sensor_readings', 'sensor_type'],
      ['sensor_readings', 'status'],
      ['sensor_errors', 'error_type'],
      ['sensor_aggregations', 'sensor_type'],
      ['dq_error_rate', 'error_type'],
    ];
    for (const [table, column] of expectations) {
      const allowed = metadata.find((m) => m.name === table)!.columns.find((c) => c.name === column)!.allowed_values;
      expect(byTable.get(table)?.get(column), `${table}.${column}`).toEqual(allowed);
    }
  });
});
