/**
 * The scheduled dq Lambda against real PostgreSQL: every result lands in dq_check_results
 * (file errors too), a retried invocation of the same scheduled event replaces its rows instead
 * of duplicating them, and the counts the alarm watches are published as EMF metrics.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CHECKS_DIR } from '#dq/adapters/check-files.js';
import { resolveChecksDir } from '#lambdas/dq/scan-io.js';
import { createTestDatabase } from '../support/database.js';
import { lambdaContext } from '../support/factories.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dq/lambda', import.meta.url));

let db: pg.Pool;
let handlerModule: typeof import('#lambdas/dq/handler.js');

beforeAll(async () => {
  const url = await createTestDatabase('dq_lambda');
  Object.assign(process.env, {
    DATABASE_URL: url,
    DQ_CHECKS_DIR: FIXTURES,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_NAMESPACE: 'IoTFirst',
  });
  db = new pg.Pool({ connectionString: url });
  await db.query('CREATE TABLE dq_fixture (v integer); INSERT INTO dq_fixture VALUES (1), (2), (NULL);');
  handlerModule = await import('#lambdas/dq/handler.js');
});
afterAll(async () => db?.end());

/** Runs the handler, capturing what it writes to stdout (Powertools writes EMF there). */
async function invoke(id: string) {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    const summary = await handlerModule.handler({ id }, lambdaContext('iot-dq', 300_000));
    return { summary, stdout: lines.join('') };
  } finally {
    spy.mockRestore();
  }
}

describe('lambdas/dq', () => {
  it('stores one row per check and per file error, and publishes the counts', async () => {
    const { summary, stdout } = await invoke('event-1');
    // outcomes.yml: pass, warn, fail (one NULL of v), error (max over no rows is NULL);
    // broken.yml: one pass plus the unsupported "median" as a file error.
    expect(summary).toMatchObject({
      runId: 'event-1',
      exitCode: 3,
      passed: 2,
      warned: 1,
      failed: 1,
      errored: 2,
      checks: 6,
    });
    const rows = (
      await db.query<{
        check_file: string;
        check_line: number;
        outcome: string;
        metric_value: number | null;
        error: string | null;
      }>(
        "SELECT check_file, check_line, outcome, metric_value, error FROM dq_check_results WHERE run_id = 'event-1' ORDER BY check_file, check_line",
      )
    ).rows;
    expect(rows.map((r) => [r.check_file, r.check_line, r.outcome])).toEqual([
      ['broken.yml', 2, 'pass'],
      ['broken.yml', 3, 'error'],
      ['outcomes.yml', 3, 'pass'],
      ['outcomes.yml', 4, 'warn'],
      ['outcomes.yml', 6, 'fail'],
      ['outcomes.yml', 7, 'error'],
    ]);
    expect(rows[1]!.error).toMatch(/^broken\.yml:3: unsupported check "median\(v\) > 1"/);
    expect(rows[4]!.metric_value).toBe(1);
    const emf = stdout
      .split('\n')
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      DqChecksPassed: 2,
      DqChecksWarned: 1,
      DqChecksFailed: 1,
      DqChecksErrored: 2,
      service: 'dq',
    });
  });

  it('a retried invocation of the same scheduled event replaces its rows', async () => {
    await invoke('event-2');
    await invoke('event-2');
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM dq_check_results WHERE run_id = 'event-2'",
    );
    expect(rows[0]!.n).toBe(6);
  });

  it('finds the check files: DQ_CHECKS_DIR, then the bundle copy under LAMBDA_TASK_ROOT, then soda/checks', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'dq-task-root-'));
    try {
      expect(resolveChecksDir({ DQ_CHECKS_DIR: '/x' })).toBe('/x');
      expect(resolveChecksDir({ LAMBDA_TASK_ROOT: root })).toBe(DEFAULT_CHECKS_DIR);
      await mkdir(path.join(root, 'soda', 'checks'), { recursive: true });
      expect(resolveChecksDir({ LAMBDA_TASK_ROOT: root })).toBe(path.join(root, 'soda', 'checks'));
      expect(resolveChecksDir({})).toBe(DEFAULT_CHECKS_DIR);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
