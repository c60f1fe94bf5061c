/**
 * End to end on the embedded stack with the real topology: the producer Lambda's default fleet
 * flows through kinesalite, the validator, the errors queue and the drainer into PostgreSQL; the
 * aggregator runs; then the dq Lambda (run by the same host that runs its schedule) and
 * `npm run dq` both judge the result: clean data exits 0 or 1, never 2 or 3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDqCli } from '../support/dq-cli.js';
import { copyTopology, count, startTestStack, type TestStack, waitFor } from '../support/runtime-stack.js';

let stack: TestStack;
const RECORDS = 1_500;

beforeAll(async () => {
  const topology = copyTopology();
  // The test invokes the scheduled functions itself, at the moments it needs.
  (topology as { schedules: unknown[] }).schedules = [];
  stack = await startTestStack({ topology, label: 'dq_stack' });
}, 120_000);
afterAll(async () => stack?.close());

const cli = runDqCli;

describe('data quality on the embedded stack', () => {
  it('clean producer traffic passes the shipped checks (dq Lambda and npm run dq)', async () => {
    const produced = await stack.host.invoke('producer', { count: RECORDS, sensors: 50, seed: 11 });
    expect(produced.ok).toBe(true);
    await waitFor(
      () =>
        count(stack.db, 'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n'),
      (n) => n === RECORDS,
      90_000,
      'every record to land',
    );
    const aggregated = await stack.host.invoke('aggregator', { id: 'dq-stack-aggregate' });
    expect(aggregated.ok).toBe(true);

    const run = await stack.host.invoke('dq', { id: 'dq-stack-run' });
    expect(run.ok).toBe(true);
    const summary = (run as { payload: { exitCode: number; failed: number; errored: number; checks: number } }).payload;
    expect(summary).toMatchObject({ failed: 0, errored: 0 });
    expect([0, 1]).toContain(summary.exitCode);
    const stored = await stack.db.query<{ outcome: string; n: number }>(
      "SELECT outcome, count(*)::int AS n FROM dq_check_results WHERE run_id = 'dq-stack-run' GROUP BY 1 ORDER BY 1",
    );
    expect(stored.rows.reduce((s, r) => s + r.n, 0)).toBe(summary.checks);
    expect(stored.rows.every((r) => r.outcome === 'pass' || r.outcome === 'warn')).toBe(true);

    const report = await cli([], { DATABASE_URL: stack.endpoints.databaseUrl });
    expect(report.stderr).toBe('');
    expect([0, 1]).toContain(report.code);
    expect(report.stdout).toMatch(/checks: \d+ passed, \d+ warned, 0 failed, 0 errored/);
  }, 180_000);
});
