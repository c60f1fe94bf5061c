/**
 * Every metric and threshold form of the SodaCL subset, against real PostgreSQL, with data
 * built here so each expected value can be counted by hand. The expectations are the rules of
 * docs/sodacl-v3.md (Soda Core v3), not whatever the runner happens to do.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { type CheckResult, runScan, type ScanResult } from '#dq/core/runner.js';
import { createTestDatabase } from '../support/database.js';

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await createTestDatabase('dq_runner') });
  await client.connect();
  await client.query(`
    CREATE TABLE m (v text, category text);
    -- NULL, two blanks of different kinds, and real values; category drives filters.
    INSERT INTO m VALUES (NULL, 'a'), ('', 'a'), ('N/A', 'a'), ('x', 'a'), ('y', 'b'), ('x', 'b'), ('zz', 'b'), (NULL, 'b');

    CREATE TABLE n (score double precision, qty integer);
    INSERT INTO n VALUES (0, 1), (1, 2), (0.5, 3), (-0.1, 4), (1.1, 5), (NULL, 6), (-999, 7);

    CREATE TABLE d (a text, b integer);
    -- (x,1) three times and (y,2) twice are the duplicated combinations: 2, not 5 rows.
    -- Rows with a NULL in a checked column never count as duplicates.
    INSERT INTO d VALUES ('x', 1), ('x', 1), ('x', 1), ('y', 2), ('y', 2), ('z', 3),
                         (NULL, 1), (NULL, 1), ('x', NULL), ('x', NULL);

    CREATE TABLE big (v text);
    INSERT INTO big SELECT CASE WHEN i = 1 THEN NULL ELSE 'v' END FROM generate_series(1, 800) AS i;

    CREATE TABLE f (ts timestamptz, naive timestamp, kind text);
    INSERT INTO f VALUES ('2026-01-01T00:00:00Z', '2026-01-01 00:00:00', 'old'),
                         ('2025-12-31T00:00:00Z', '2025-12-31 00:00:00', 'older');
    CREATE TABLE empty_f (ts timestamptz);

    CREATE TABLE s (id integer, name varchar(20), amount double precision, created timestamp,
                    updated timestamptz, tmp_debug text, price numeric(10, 2));
    CREATE SEQUENCE dq_test_seq;
  `);
});

afterAll(async () => {
  await client?.end();
});

async function scan(text: string, variables?: Record<string, string>): Promise<ScanResult> {
  return runScan({
    files: [{ path: 'checks.yml', text }],
    executor: pgExecutor(client),
    ...(variables ? { variables } : {}),
  });
}

/** Runs a one-check file and returns that check's result. */
async function one(table: string, check: string, variables?: Record<string, string>): Promise<CheckResult> {
  const result = await scan(`checks for ${table}:\n${check}\n`, variables);
  expect(result.errors).toEqual([]);
  expect(result.results).toHaveLength(1);
  return result.results[0]!;
}

describe('missing', () => {
  it('counts only NULL unless other values are listed', async () => {
    const r = await one('m', '  - missing_count(v) = 2');
    expect(r.value).toBe(2);
    expect(r.outcome).toBe('pass');
  });

  it('adds listed missing values, and lists from configurations and the check add up', async () => {
    expect((await one('m', "  - missing_count(v) = 4:\n      missing values: ['', 'N/A']")).value).toBe(4);
    const both = await scan(
      "configurations for m:\n  missing values for v: ['N/A']\nchecks for m:\n  - missing_count(v) = 4:\n      missing values: ['']\n",
    );
    expect(both.errors).toEqual([]);
    expect(both.results[0]!.value).toBe(4);
  });

  it('missing regex matches in addition to NULL', async () => {
    expect((await one('m', "  - missing_count(v) = 3:\n      missing regex: '^N/'")).value).toBe(3);
  });

  it('missing_percent divides by COUNT(*) of the filtered rows, NULLs included', async () => {
    // 8 rows, 2 NULL: 25%. Under the in-check filter category = 'a': 4 rows, 1 NULL: 25%;
    // with '' listed too: 2 of 4 = 50%.
    expect((await one('m', '  - missing_percent(v) = 25')).value).toBe(25);
    const filtered = await one(
      'm',
      "  - missing_percent(v) = 50%:\n      filter: category = 'a'\n      missing values: ['']",
    );
    expect(filtered.value).toBe(50);
    expect(filtered.diagnostics).toMatchObject({ missing_count: 2, row_count: 4 });
  });

  it('a dataset filter ([partition]) narrows both count and denominator', async () => {
    const result = await scan(
      "filter m [b]:\n  where: category = 'b'\nchecks for m [b]:\n  - missing_percent(v) = 25\n  - row_count = 4\n",
    );
    expect(result.errors).toEqual([]);
    expect(result.results.map((r) => r.value)).toEqual([25, 4]);
  });

  it('percentages round like Python round(x, 2): 1/3 -> 33.33, ties to even (1/800 -> 0.12)', async () => {
    const third = await scan(
      "filter m [x]:\n  where: v IN ('x', 'y')\nchecks for m [x]:\n  - invalid_percent(v) = 33.33:\n      valid values: [x]\n",
    );
    // rows x, y, x: one invalid of three.
    expect(third.results[0]!.value).toBe(33.33);
    // 1 missing of 800 is 0.125 exactly: Python rounds the tie to even, 0.12 (not 0.13).
    expect((await one('big', '  - missing_percent(v) = 0.12')).value).toBe(0.12);
  });

  it('a percentage is 0 on an empty selection, not a division by zero', async () => {
    expect((await one('m', "  - missing_percent(v) = 0:\n      filter: category = 'none'")).value).toBe(0);
  });
});

describe('invalid', () => {
  it('NULL and missing values are never invalid', async () => {
    // valid values [x]: '', 'N/A', 'y', 'zz' are invalid (4); the two NULLs are missing, not invalid.
    expect((await one('m', '  - invalid_count(v) = 4:\n      valid values: [x]')).value).toBe(4);
    // Listing '' and 'N/A' as missing takes them out of invalid.
    expect(
      (await one('m', "  - invalid_count(v) = 2:\n      valid values: [x]\n      missing values: ['', 'N/A']")).value,
    ).toBe(2);
  });

  it('with no validity configuration the count is 0 and a warning is logged', async () => {
    const result = await scan('checks for m:\n  - invalid_count(v) = 0\n');
    expect(result.results[0]).toMatchObject({ value: 0, outcome: 'pass' });
    expect(result.warnings.join()).toMatch(/no valid or invalid configuration/);
    expect(result.exitCode).toBe(0);
  });

  it('valid min / valid max are inclusive', async () => {
    // 0 and 1 are valid (inclusive), 0.5 valid; -0.1, 1.1 and -999 invalid; NULL missing.
    expect((await one('n', '  - invalid_count(score) = 3:\n      valid min: 0\n      valid max: 1')).value).toBe(3);
    // -999 as a missing value (a sentinel) leaves two invalid.
    expect(
      (
        await one(
          'n',
          '  - invalid_count(score) = 2:\n      valid min: 0\n      valid max: 1\n      missing values: [-999]',
        )
      ).value,
    ).toBe(2);
  });

  it('invalid values / invalid regex / lengths', async () => {
    expect((await one('m', '  - invalid_count(v) = 1:\n      invalid values: [y]')).value).toBe(1);
    expect((await one('m', "  - invalid_count(v) = 3:\n      invalid regex: '^[xy]$'")).value).toBe(3); // x, y, x
    // lengths of '', 'N/A', 'x', 'y', 'x', 'zz': length 1 -> 3 valid, 3 invalid.
    expect((await one('m', '  - invalid_count(v) = 3:\n      valid length: 1')).value).toBe(3);
    expect(
      (await one('m', '  - invalid_count(v) = 2:\n      valid min length: 1\n      valid max length: 2')).value,
    ).toBe(2); // '' and 'N/A'
    expect(
      (await one('m', "  - invalid_count(v) = 1:\n      valid regex: '^[a-z]+$'\n      missing values: ['']")).value,
    ).toBe(1);
  });

  it('a value that looks like SQL is a parameter, never SQL', async () => {
    const r = await one('m', `  - invalid_count(v) = 6:\n      valid values: ["x'); DROP TABLE m; --"]`);
    expect(r.value).toBe(6);
    expect(r.sql?.params).toContain("x'); DROP TABLE m; --");
    expect((await client.query('SELECT count(*)::int AS n FROM m')).rows[0]).toEqual({ n: 8 });
  });
});

describe('duplicates', () => {
  it('duplicate_count is the number of duplicated combinations, NULLs excluded', async () => {
    expect((await one('d', '  - duplicate_count(a, b) = 2')).value).toBe(2);
    // On a alone: x occurs 5 times, y twice; NULL a never counts.
    expect((await one('d', '  - duplicate_count(a) = 2')).value).toBe(2);
    expect((await one('d', '  - duplicate_count(b) = 2')).value).toBe(2); // 1 (5x) and 2 (2x)
  });

  it('duplicate_percent divides the combination count by all rows', async () => {
    // 2 duplicated combinations / 10 rows (NULL rows included in the denominator).
    expect((await one('d', '  - duplicate_percent(a, b) = 20')).value).toBe(20);
  });

  it('filters apply to duplicates too', async () => {
    expect((await one('d', "  - duplicate_count(a, b) = 1:\n      filter: a = 'x'")).value).toBe(1);
  });
});

describe('thresholds', () => {
  it('between: bare bounds inclusive, ( ) exclusive, [ ] inclusive, per side', async () => {
    // row_count of n is 7.
    const result = await scan(`checks for n:
  - row_count between 7 and 10
  - row_count between (7 and 10]
  - row_count between [7 and 10)
  - row_count between 1 and 7
  - row_count between 1 and 7)
  - row_count not between 7 and 10
  - row_count not between (7 and 10)
  - row_count != 7
  - row_count <> 6
  - row_count >= 7
  - row_count < 7
`);
    expect(result.results.map((r) => r.outcome)).toEqual([
      'pass',
      'fail',
      'pass',
      'pass',
      'fail',
      'fail',
      'pass',
      'fail',
      'pass',
      'pass',
      'fail',
    ]);
  });

  it('a trailing % is ignored and numbers parse as floats', async () => {
    expect((await one('m', '  - missing_percent(v) < 25.01%')).outcome).toBe('pass');
    expect((await one('n', '  - row_count = 7.0')).outcome).toBe('pass');
  });

  it('fail is tested before warn; neither zone means pass', async () => {
    const result = await scan(`checks for n:
  - row_count:
      warn: when > 5
      fail: when > 6
  - row_count:
      warn: when > 5
      fail: when > 10
  - row_count:
      warn: when > 100
      fail: when > 200
  - row_count:
      warn: when between 1 and 10
`);
    expect(result.results.map((r) => r.outcome)).toEqual(['fail', 'warn', 'pass', 'warn']);
    expect(result.exitCode).toBe(2);
  });

  it('an inline threshold wins over warn/fail keys', async () => {
    const r = await one('n', '  - row_count > 0:\n      fail: when > 1');
    expect(r.outcome).toBe('pass');
  });

  it("variables are substituted; the file's variables: section wins over -v (Soda writes it over the scan variables)", async () => {
    // Soda v3 sodacl_parser.__parse_header_section stores the section's values in scan._variables
    // after the CLI's add_variables, so the file's value is the one the checks see.
    const result = await scan('variables:\n  LIMIT: "7"\nchecks for n:\n  - row_count = ${LIMIT}\n', {});
    expect(result.results[0]!.outcome).toBe('pass');
    const withScanVariable = await scan('variables:\n  LIMIT: "7"\nchecks for n:\n  - row_count = ${LIMIT}\n', {
      LIMIT: '8',
    });
    expect(withScanVariable.results[0]!.outcome).toBe('pass');
    const fromScan = await scan('checks for n:\n  - row_count = ${LIMIT}\n', { LIMIT: '8' });
    expect(fromScan.results[0]!.outcome).toBe('fail');
  });
});

describe('aggregates', () => {
  it('min/max/avg/sum/stddev/variance are SQL aggregates', async () => {
    const result = await scan(`checks for n:
  - min(qty) = 1
  - max(qty) = 7
  - avg(qty) = 4
  - sum(qty) = 28
  - stddev(qty) between 2.16 and 2.17
  - stddev_samp(qty) between 2.16 and 2.17
  - stddev_pop(qty) = 2
  - variance(qty) between 4.66 and 4.67
`);
    expect(result.errors).toEqual([]);
    expect(result.results.map((r) => r.outcome)).toEqual(Array(8).fill('pass'));
  });

  it('with missing/valid keys the aggregate runs over valid, non-missing values only', async () => {
    // score: 0, 1, 0.5, -0.1, 1.1, NULL, -999. Plain min is -999; excluding -999 (missing) and
    // invalid values outside [0, 1]: min 0, max 1, avg 0.5.
    expect((await one('n', '  - min(score) = -999')).value).toBe(-999);
    expect((await one('n', '  - min(score) = 0:\n      missing values: [-999]\n      valid min: 0')).value).toBe(0);
    expect((await one('n', '  - max(score) = 1:\n      valid max: 1')).value).toBe(1);
    expect((await one('n', '  - avg(score) = 0.5:\n      valid min: 0\n      valid max: 1')).value).toBe(0.5);
  });

  it('a NULL aggregate leaves the check not evaluated: an error, exit 3', async () => {
    const result = await scan('checks for n:\n  - max(score) > 0:\n      filter: qty > 100\n  - row_count > 0\n');
    expect(result.results[0]).toMatchObject({ outcome: null });
    expect(result.results[0]!.error).toMatch(/NULL/);
    expect(result.results[1]!.outcome).toBe('pass');
    expect(result.exitCode).toBe(3);
  });
});

describe('freshness', () => {
  const NOW = '2026-01-01T01:00:00Z';

  it('is now - max(col); fails only when strictly greater than the limit', async () => {
    const exact = await one('f', '  - freshness(ts) < 1h', { NOW });
    expect(exact.value).toBe(3600);
    expect(exact.outcome).toBe('pass');
    expect((await one('f', '  - freshness(ts) < 59m', { NOW })).outcome).toBe('fail');
    expect((await one('f', '  - freshness(ts) < 1d12h', { NOW: '2026-01-02T12:00:00Z' })).outcome).toBe('pass');
    expect((await one('f', '  - freshness(ts) < 1d12h', { NOW: '2026-01-02T12:01:00Z' })).outcome).toBe('fail');
  });

  it('reads naive timestamps (and a NOW without offset) as UTC', async () => {
    expect((await one('f', '  - freshness(naive) < 1h', { NOW })).value).toBe(3600);
    expect((await one('f', '  - freshness(naive) < 1h', { NOW: '2026-01-01T01:00:00' })).value).toBe(3600);
  });

  it('warn/fail durations, with a filter', async () => {
    const check = '  - freshness(ts):\n      warn: when > 30m\n      fail: when > 2h';
    expect((await one('f', check, { NOW })).outcome).toBe('warn');
    expect((await one('f', check, { NOW: '2026-01-01T00:20:00Z' })).outcome).toBe('pass');
    expect((await one('f', check, { NOW: '2026-01-01T02:00:01Z' })).outcome).toBe('fail');
    const older = await one('f', "  - freshness(ts) < 1d:\n      filter: kind = 'older'", { NOW });
    expect(older.value).toBe(25 * 3600);
    expect(older.outcome).toBe('fail');
  });

  it('an empty table fails', async () => {
    const r = await one('empty_f', '  - freshness(ts) < 1d', { NOW });
    expect(r).toMatchObject({ value: null, outcome: 'fail' });
  });

  it('NOW defaults to the scan start', async () => {
    const result = await runScan({
      files: [{ path: 'x.yml', text: 'checks for f:\n  - freshness(ts) < 1h\n' }],
      executor: pgExecutor(client),
      startedAt: new Date('2026-01-01T00:30:00Z'),
    });
    expect(result.results[0]!.value).toBe(1800);
  });
});

describe('schema', () => {
  it('accepts type aliases: varchar~text, double precision~decimal, timestamp, timestamptz', async () => {
    const r = await one(
      's',
      `  - schema:
      fail:
        when required column missing: [id, name, amount, created, updated]
        when wrong column type:
          id: integer
          name: text
          amount: decimal
          created: timestamp
          updated: timestamptz
          price: numeric`,
    );
    expect(r.outcome).toBe('pass');
    const exact = await one(
      's',
      `  - schema:\n      fail:\n        when wrong column type:\n          name: character varying\n          amount: DOUBLE PRECISION\n          created: timestamp without time zone`,
    );
    expect(exact.outcome).toBe('pass');
  });

  it('reports missing, forbidden (wildcards), wrong type and wrong index (0-based)', async () => {
    const r = await one(
      's',
      `  - schema:
      fail:
        when required column missing: [id, gone]
        when forbidden column present: ['tmp_%', 'x*']
        when wrong column type:
          id: text
        when wrong column index:
          id: 0
          name: 2`,
    );
    expect(r.outcome).toBe('fail');
    expect(r.diagnostics.fail_problems).toEqual([
      'required column missing: gone',
      'forbidden column present: tmp_debug',
      'wrong column type: id is integer, expected text',
      'wrong column index: name is at 1, expected 2',
    ]);
  });

  it('fail rules beat warn rules; warn rules alone warn', async () => {
    const warnOnly = await one(
      's',
      '  - schema:\n      warn:\n        when forbidden column present: [tmp_debug]\n      fail:\n        when required column missing: [id]',
    );
    expect(warnOnly.outcome).toBe('warn');
    const both = await one(
      's',
      '  - schema:\n      warn:\n        when forbidden column present: [tmp_debug]\n      fail:\n        when required column missing: [nope]',
    );
    expect(both.outcome).toBe('fail');
  });

  it('a table that does not exist is an error', async () => {
    const result = await scan(
      'checks for no_such_table:\n  - schema:\n      fail:\n        when required column missing: [id]\n',
    );
    expect(result.results[0]!.outcome).toBeNull();
    expect(result.exitCode).toBe(3);
  });
});

describe('failed rows and user-defined metrics', () => {
  it('fail condition counts matching rows and fails when > 0 by default', async () => {
    const r = await one('n', '  - failed rows:\n      fail condition: score < 0');
    expect(r).toMatchObject({ value: 2, outcome: 'fail' });
    expect((await one('n', '  - failed rows:\n      fail condition: score > 100')).outcome).toBe('pass');
  });

  it('fail query counts its rows; warn/fail thresholds replace the default', async () => {
    const q = '  - failed rows:\n      fail query: SELECT * FROM n WHERE score < 0;\n';
    expect((await one('n', q)).value).toBe(2);
    expect((await one('n', `${q}      warn: when > 0\n      fail: when > 5`)).outcome).toBe('warn');
    expect((await one('n', '  - failed rows:\n      fail condition: score < 0\n      warn: when > 1')).outcome).toBe(
      'warn',
    );
  });

  it('NAME query takes the last non-NULL column of the first row', async () => {
    const r = await one('n', '  - top between 6 and 7:\n      top query: SELECT 1, max(qty), NULL FROM n');
    expect(r).toMatchObject({ value: 7, outcome: 'pass' });
    const none = await scan('checks for n:\n  - nothing > 0:\n      nothing query: SELECT NULL\n');
    expect(none.results[0]!.outcome).toBeNull();
    expect(none.exitCode).toBe(3);
  });

  it('NAME expression runs over the dataset and its filters', async () => {
    const r = await one('n', '  - spread = 6:\n      spread expression: max(qty) - min(qty)\n      filter: qty > 0');
    expect(r.value).toBe(6);
  });

  it('data-source-wide checks: top-level "checks:" with a fail query', async () => {
    const result = await scan(
      'checks:\n  - failed rows:\n      name: orphans\n      fail query: SELECT 1 FROM d WHERE a IS NULL\n',
    );
    expect(result.results[0]).toMatchObject({ name: 'orphans', value: 2, outcome: 'fail', table: null });
  });
});

describe('review findings', () => {
  it('check SQL cannot leave its read-only transaction with several statements', async () => {
    const breakout =
      'checks:\n  - failed rows:\n      fail query: SELECT 1) x; COMMIT; CREATE TABLE pwned (a int); SELECT (1\n';
    const result = await scan(breakout);
    expect(result.exitCode).toBe(3);
    const created = await client.query(`SELECT to_regclass('pwned') AS t`);
    expect(created.rows[0].t).toBeNull();
  });

  it('a configurations block after the checks of its table still applies', async () => {
    const after = await scan(
      "checks for m:\n  - missing_count(v) = 3\nconfigurations for m:\n  missing values for v: ['N/A']\n",
    );
    expect(after.errors).toEqual([]);
    expect(after.results[0]!.value).toBe(3);
  });

  it('configured missing values are left out of aggregates too', async () => {
    const result = await scan(
      'configurations for n:\n  missing values for score: [-999]\nchecks for n:\n  - min(score) = -0.1\n',
    );
    expect(result.results[0]!.value).toBe(-0.1);
  });

  it('valid min on a text column compares numbers, or errors, never text order', async () => {
    const result = await scan('checks for m:\n  - invalid_count(v) = 0:\n      valid min: 5\n');
    expect(result.results[0]!.outcome).toBeNull();
    expect(result.exitCode).toBe(3);
  });

  it('a trailing SQL comment in free SQL does not break the query', async () => {
    const result = await scan('checks for n:\n  - failed rows:\n      fail condition: score < 0 -- negative scores\n');
    expect(result.errors).toEqual([]);
    expect(result.results[0]!.value).toBe(2);
  });
});

describe('errors and exit codes', () => {
  it('0 pass, 1 warn, 2 fail, 3 error', async () => {
    expect((await scan('checks for n:\n  - row_count = 7\n')).exitCode).toBe(0);
    expect((await scan('checks for n:\n  - row_count = 7\n  - row_count:\n      warn: when > 1\n')).exitCode).toBe(1);
    expect((await scan('checks for n:\n  - row_count:\n      warn: when > 1\n  - row_count = 1\n')).exitCode).toBe(2);
    expect((await scan('checks for n:\n  - row_count = 1\n  - missing_count(no_such_column) = 0\n')).exitCode).toBe(3);
  });

  it('a failing query is an error on that check only; the others still run', async () => {
    const result = await scan('checks for n:\n  - missing_count(no_such_column) = 0\n  - row_count = 7\n');
    expect(result.results[0]!.outcome).toBeNull();
    expect(result.results[0]!.error).toMatch(/no_such_column/);
    expect(result.results[1]!.outcome).toBe('pass');
  });

  it('check SQL runs read-only: a filter with a side effect is refused', async () => {
    const r = (await scan("checks for n:\n  - row_count > 0:\n      filter: nextval('dq_test_seq') > 0\n")).results[0]!;
    expect(r.outcome).toBeNull();
    expect(r.error).toMatch(/read-only/);
  });

  it('a syntax error in one file still runs the others, and exits 3 naming file and line', async () => {
    const result = await runScan({
      files: [
        { path: 'good.yml', text: 'checks for n:\n  - row_count = 7\n' },
        { path: 'bad.yml', text: 'checks for n:\n  - row_count = 7\n  - percentile(qty, 0.5) > 1\n' },
      ],
      executor: pgExecutor(client),
    });
    expect(result.results.map((r) => r.outcome)).toEqual(['pass', 'pass']);
    expect(result.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^bad\.yml:3: unsupported check "percentile\(qty, 0\.5\) > 1"/),
    ]);
    expect(result.exitCode).toBe(3);
  });

  it('a bad NOW is an error', async () => {
    expect((await scan('checks for f:\n  - freshness(ts) < 1d\n', { NOW: 'yesterday' })).exitCode).toBe(3);
  });
});
