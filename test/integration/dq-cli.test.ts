/**
 * `npm run dq` as a user runs it (a child process through tsx): report, --verbose SQL, --json,
 * soda's exit codes, exit 3 with file:line for unsupported syntax, and the connection taken
 * from .iot-first/endpoints.json (what `npm start` writes) when DATABASE_URL is unset.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.js';
import { runDqCli } from '../support/dq-cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OK = path.join(ROOT, 'test/fixtures/dq/ok.yml');
const MALFORMED = path.join(ROOT, 'test/fixtures/dq/malformed.yml');

let url: string;
let stackDir: string;

beforeAll(async () => {
  url = await createTestDatabase('dq_cli');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`INSERT INTO sensor_readings (sensor_id, sensor_type, value, unit, manufacturer, model, min, max, status, event_time,
      normalized_value, high_alert, low_alert, processing_time, stream_name, shard_id, sequence_number, partition_key, arrival_time)
    VALUES ('s1', 'pressure', 5, 'hPa', 'm', 'x', 0, 10, 'active', now(), 0.5, false, false, now(), 'st', 'sh', '1', 's1', now())`);
  await client.end();
  stackDir = await mkdtemp(path.join(os.tmpdir(), 'dq-cli-'));
});
afterAll(async () => {
  if (stackDir) await rm(stackDir, { recursive: true, force: true });
});

const run = runDqCli;

describe('npm run dq', () => {
  it('prints a readable report and exits 0 when every check passes; --verbose shows the SQL', async () => {
    const plain = await run([OK], { DATABASE_URL: url });
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/PASS +\[sensor_readings\] row_count >= 0 +value=1/);
    expect(plain.stdout).toMatch(/2 checks: 2 passed, 0 warned, 0 failed, 0 errored\. Exit code 0\./);
    expect(plain.stdout).not.toMatch(/sql:/);
    const verbose = await run(['--verbose', OK], { DATABASE_URL: url });
    expect(verbose.stdout).toMatch(
      /sql: SELECT COUNT\(CASE WHEN NOT \("sensor_type" IS NULL\) AND NOT \("sensor_type" IN \(\$1, \$2, \$3\)\) THEN 1 END\), COUNT\(\*\) FROM "sensor_readings"/,
    );
    expect(verbose.stdout).toMatch(/params: \["temperature","humidity","pressure"\]/);
  });

  it('--json is machine-readable and exit codes follow the outcomes (-v sets variables)', async () => {
    const json = await run(['--json', OK], { DATABASE_URL: url });
    const parsed = JSON.parse(json.stdout) as { exitCode: number; checks: { outcome: string; value: number }[] };
    expect(parsed.exitCode).toBe(0);
    expect(parsed.checks.map((c) => c.outcome)).toEqual(['pass', 'pass']);
    const file = path.join(stackDir, 'fresh.yml');
    await writeFile(
      file,
      'checks for sensor_readings:\n  - freshness(processing_time):\n      warn: when > 1h\n      fail: when > 1d\n',
    );
    const tomorrow = new Date(Date.now() + 2 * 3600_000).toISOString();
    expect((await run(['-v', `NOW=${tomorrow}`, file], { DATABASE_URL: url })).code).toBe(1);
    const dayAfter = new Date(Date.now() + 49 * 3600_000).toISOString();
    expect((await run(['-v', `NOW=${dayAfter}`, file], { DATABASE_URL: url })).code).toBe(2);
  });

  it('${VAR} is read from the environment, before -v (Soda resolves os.environ first)', async () => {
    const file = path.join(stackDir, 'env.yml');
    await writeFile(file, 'checks for sensor_readings:\n  - row_count = ${DQ_EXPECTED_ROWS}\n');
    expect((await run([file], { DATABASE_URL: url, DQ_EXPECTED_ROWS: '1' })).code).toBe(0);
    expect((await run(['-v', 'DQ_EXPECTED_ROWS=1', file], { DATABASE_URL: url, DQ_EXPECTED_ROWS: '2' })).code).toBe(2);
    const undefinedVariable = await run([file], { DATABASE_URL: url, DQ_EXPECTED_ROWS: undefined });
    expect(undefinedVariable.code).toBe(3);
    expect(undefinedVariable.stdout).toMatch(/env\.yml:2: variable \$\{DQ_EXPECTED_ROWS\} is not defined/);
  });

  it('unsupported syntax exits 3 naming the file and line', async () => {
    const result = await run([MALFORMED], { DATABASE_URL: url });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(
      /test\/fixtures\/dq\/malformed\.yml:6: unsupported key "samples limit" in check "missing_count\(sensor_id\) = 0"/,
    );
  });

  it('without DATABASE_URL it uses the running stack from .iot-first/endpoints.json', async () => {
    await mkdir(path.join(stackDir, '.iot-first'), { recursive: true });
    await writeFile(path.join(stackDir, '.iot-first', 'endpoints.json'), JSON.stringify({ databaseUrl: url }));
    const result = await run([OK], { DATABASE_URL: undefined }, stackDir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('a database it cannot reach is exit 3 with the reason', async () => {
    const result = await run([OK], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^dq: .*ECONNREFUSED/);
  });
});
