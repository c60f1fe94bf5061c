/**
 * The dq Lambda resolves a check file's `${NAME}` from its environment, as `soda scan` does,
 * but never a credential: a check's SQL is logged and stored with its result.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkVariablesFromEnv } from '#lambdas/dq/scan-io.js';
import { createTestDatabase } from '../support/database.js';
import { lambdaContext } from '../support/factories.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dq/lambda-variables', import.meta.url));

let db: pg.Pool;

beforeAll(async () => {
  const url = await createTestDatabase('dq_lambda_vars');
  Object.assign(process.env, {
    DATABASE_URL: url,
    DQ_CHECKS_DIR: FIXTURES,
    DQ_EXPECTED_ROWS: '3',
    DQ_FIXTURE_PASSWORD: '3',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  db = new pg.Pool({ connectionString: url });
  await db.query('CREATE TABLE dq_fixture (v integer); INSERT INTO dq_fixture VALUES (1), (2), (3);');
});
afterAll(async () => db?.end());

describe('lambdas/dq check variables', () => {
  it('resolves ${NAME} from the environment and leaves a credential-like name unresolved, reported on its line', async () => {
    const { handler } = await import('#lambdas/dq/handler.js');
    const summary = await handler({ id: 'vars-1' }, lambdaContext('iot-dq', 300_000));
    expect(summary).toMatchObject({ passed: 1, errored: 1, checks: 2 });
    const { rows } = await db.query<{ check_line: number; outcome: string; error: string | null }>(
      "SELECT check_line, outcome, error FROM dq_check_results WHERE run_id = 'vars-1' ORDER BY check_line",
    );
    expect(rows.map((r) => [r.check_line, r.outcome])).toEqual([
      [4, 'pass'],
      [5, 'error'],
    ]);
    expect(rows[1]?.error).toMatch(/variable \$\{DQ_FIXTURE_PASSWORD\} is not defined/);
  });

  it('keeps the runtime credentials and secret-named settings out, everything else in', () => {
    const kept = checkVariablesFromEnv({
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
      AWS_SESSION_TOKEN: 'c',
      AWS_REGION: 'eu-west-1',
      DB_SECRET_ARN: 'arn',
      PGPASSWORD: 'p',
      DATABASE_URL: 'postgres://u:p@h/d',
      API_TOKEN: 't',
      DQ_EXPECTED_ROWS: '3',
    });
    expect(kept).toEqual({ AWS_REGION: 'eu-west-1', DQ_EXPECTED_ROWS: '3' });
  });
});
