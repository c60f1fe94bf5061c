/**
 * `npm run bench`'s command line: a mistyped flag or value gets its message and the usage with
 * exit status 2 (before: a stack trace and status 1), `--help` the usage with status 0. Real
 * processes (tsx on bench/run.ts); none of these starts a benchmark.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const runTs = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function bench(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const out = spawnSync(process.execPath, ['--import', tsx, runTs, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

describe('npm run bench, command line', () => {
  it('prints the usage for --help', () => {
    const help = bench('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run bench -- \[--quick\] \[--only ingest,e2e,/);
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--only', 'nope'], /--only: unknown benchmark\(s\) nope; choose from ingest, e2e/],
    [['--records', '0'], /--records must be a positive integer, got 0/],
  ])('refuses %j with its message and the usage, status 2', (args, message) => {
    const run = bench(...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('usage: npm run bench --');
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
