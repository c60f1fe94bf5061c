/**
 * Issue 15: the runner against Soda Core v3's own test cases. `customers` is Soda's test table
 * (soda/core/tests/helpers/common_test_tables.py, `customers_test_table`) with the column types
 * Soda's PostgreSQL fixture creates (TEXT as VARCHAR(255), DECIMAL as FLOAT, INTEGER as INT), so
 * each check below is the one Soda's test runs and each expected outcome is the one Soda's test
 * asserts. Cases that need other data say which documentation section or source they follow.
 * Test names cite `file::test` of soda/core/tests/data_source at tag v3.5.6 (branch v3).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { type CheckResult, runScan, type ScanResult } from '#dq/core/runner.js';
import { createTestDatabase } from '../support/database.js';

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await createTestDatabase('dq_soda') });
  await client.connect();
  await client.query(`
    CREATE TABLE customers (
      id varchar(255), cst_size double precision, cst_size_txt varchar(255), distance integer,
      pct varchar(255), cat varchar(255), country varchar(255), zip varchar(255), email varchar(255),
      date_updated date, ts timestamp, ts_with_tz timestamptz);
    INSERT INTO customers VALUES
      ('ID1', 1, '1', 0, '- 28,42 %', 'HIGH', 'BE', '2360', 'john.doe@example.com', '2020-06-23', '2020-06-23 00:00:10', '2020-06-23 00:00:10+00'),
      ('ID2', .5, '.5', -999, '+22,75 %', 'HIGH', 'BE', '2361', 'JOE.SMOE@EXAMPLE.COM', '2020-06-23', '2020-06-23 00:01:10', '2020-06-23 00:01:10+00'),
      ('ID3', -1.2, '-1.2', 5, '.92 %', 'MEDIUM', 'BE', '2362', 'milan.lukáč@example.com', '2020-06-23', '2020-06-23 00:02:10', '2020-06-23 00:02:10+00'),
      ('ID4', -.4, '-.4', 10, '0.26 %', 'LOW', 'BE', '2363', 'john.doe+1@ĚxamplÉ.com', '2020-06-23', '2020-06-23 00:03:10', '2020-06-23 00:03:10+00'),
      ('ID5', -3, '-3', 999, '18,32%', NULL, 'BE', '2364', 'invalid@email', '2020-06-23', '2020-06-23 00:04:10', '2020-06-23 00:04:10+00'),
      ('ID6', 5, '5', 999, '18,32%', NULL, 'BE', '2365', ' ', '2020-06-23', '2020-06-23 00:05:10', '2020-06-23 00:05:10+00'),
      ('ID7', 6, '6', 999, 'error', NULL, 'NL', '2360', NULL, '2020-06-24', '2020-06-24 00:01:10', '2020-06-24 00:01:10+00'),
      ('ID8', NULL, NULL, 999, 'No value', NULL, 'NL', '2361', NULL, '2020-06-24', '2020-06-24 00:02:10', '2020-06-24 00:02:10+00'),
      ('ID9', NULL, NULL, 999, 'N/A', NULL, 'NL', '2362', NULL, '2020-06-24', '2020-06-24 00:03:10', '2020-06-24 00:03:10+00'),
      (NULL, NULL, NULL, NULL, NULL, 'HIGH', 'NL', '2363', NULL, '2020-06-24', '2020-06-24 00:04:10', '2020-06-24 00:04:10+00');

    -- Schema cases: names Soda compares exactly as the catalog spells them, and each alias pair.
    CREATE TABLE odd ("Mixed Case" integer, "with-hyphen" text, plain_text text, vc varchar(10),
                      num numeric(10, 2), dbl double precision, tmp_debug text, debug_tmp text);
  `);
});

afterAll(async () => {
  await client?.end();
});

interface ScanInput {
  readonly variables?: Record<string, string>;
  readonly environment?: Record<string, string>;
}

async function scan(text: string, input: ScanInput = {}): Promise<ScanResult> {
  return runScan({ files: [{ path: 'checks.yml', text }], executor: pgExecutor(client), ...input });
}

/** Soda's `scan.assert_all_checks_pass()`: every check passed and the scan logged no error. */
async function expectAllPass(text: string, input: ScanInput = {}): Promise<ScanResult> {
  const result = await scan(text, input);
  expect(result.errors).toEqual([]);
  expect(
    result.results.map((r) => [r.name, r.outcome, r.value, r.error]),
    'every check passes',
  ).toEqual(result.results.map((r) => [r.name, 'pass', r.value, undefined]));
  expect(result.results.length).toBeGreaterThan(0);
  expect(result.exitCode).toBe(0);
  return result;
}

function only(result: ScanResult): CheckResult {
  expect(result.results).toHaveLength(1);
  const [r] = result.results;
  if (!r) throw new Error('no result');
  return r;
}

describe('scan variables (issue 15 item 1)', () => {
  it('NOW is read as Python datetime.fromisoformat reads it: space or T, with or without offset and fractions', async () => {
    // test_freshness.py::test_freshness_without_table_filter (NOW "2020-06-24 01:00:00", < 1d passes)
    // and ::test_freshness_timezones_input_with_tz (NOW "2020-06-25 01:00:00+01:00").
    await expectAllPass('checks for customers:\n  - freshness(ts) < 1d\n', {
      variables: { NOW: '2020-06-24 01:00:00' },
    });
    await expectAllPass('checks for customers:\n  - freshness(ts_with_tz) < 1d\n', {
      variables: { NOW: '2020-06-25 01:00:00+01:00' },
    });
    for (const now of ['2020-06-24T01:00:00.123456', '2020-06-24 01:00:00.5+00:00', '20200624T010000', '2020-06-24']) {
      await expectAllPass('checks for customers:\n  - freshness(ts) < 1d\n', { variables: { NOW: now } });
    }
  });

  it('an unreadable NOW invalidates the freshness checks only; the other checks run', async () => {
    // FreshnessCheck.evaluate logs "Could not parse variable NOW as a timestamp" for that check alone.
    const result = await scan('checks for customers:\n  - row_count = 10\n  - freshness(ts) < 1d\n', {
      variables: { NOW: 'yesterday' },
    });
    expect(result.errors).toEqual([]);
    expect(result.results.map((r) => r.outcome)).toEqual(['pass', null]);
    expect(result.results[1]?.error).toMatch(/NOW="yesterday" is not a timestamp/);
    expect(result.exitCode).toBe(3);
  });

  it('freshness(col, VAR) reads "now" from VAR; an undefined VAR fails the check with an error', async () => {
    // test_freshness.py::test_fail_freshness_timezones_input_user_var and ::test_fail_freshness_var_missing.
    const withVar = await scan(
      'checks for customers:\n  - freshness(ts, CUSTOM_USER_VAR) < 1d\n  - freshness(ts_with_tz, CUSTOM_USER_VAR) < 1d\n',
      { variables: { CUSTOM_USER_VAR: '2020-06-25 02:00:00+01:00' } },
    );
    expect(withVar.results.map((r) => r.outcome)).toEqual(['fail', 'fail']);
    const missing = await scan('checks for customers:\n  - freshness(ts, CUSTOM_USER_VAR) < 1d\n');
    expect(only(missing).outcome).toBe('fail');
    expect(only(missing).error).toMatch(/variable not found/);
    expect(missing.exitCode).toBe(3);
  });

  it("${VAR} comes from the environment first, as Soda's Jinja OsContext resolves it", async () => {
    // soda/common/jinja.py OsContext.resolve_or_missing: os.environ before the scan variables.
    const text = 'checks for customers:\n  - row_count = ${EXPECTED_ROWS}\n';
    expect(only(await scan(text, { environment: { EXPECTED_ROWS: '10' } })).outcome).toBe('pass');
    const both = await scan(text, { environment: { EXPECTED_ROWS: '10' }, variables: { EXPECTED_ROWS: '9' } });
    expect(only(both).outcome).toBe('pass');
  });

  it('an undefined ${VAR} invalidates only the check that uses it (Soda would substitute an empty string)', async () => {
    const result = await scan(
      'checks for customers:\n  - row_count = 10\n  - missing_count(cat) = ${NOT_SET}\n  - missing_count(id) = 1\n',
    );
    expect(result.results.map((r) => r.outcome)).toEqual(['pass', 'pass']);
    expect(result.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^checks\.yml:3: variable \$\{NOT_SET\} is not defined/),
    ]);
    expect(result.exitCode).toBe(3);
  });

  it("a variable in a test of Soda's own: invalid_count(id) = ${zero}", async () => {
    // test_invalid.py::test_default_invalid (with the warning Soda logs for invalid_count without configuration).
    const result = await expectAllPass(
      'checks for customers:\n  - invalid_count(id) = ${zero}\n  - valid_count(id) = 9\n',
      {
        variables: { zero: '0' },
      },
    );
    expect(result.warnings.join('\n')).toMatch(/no valid or invalid configuration/);
  });
});

describe('freshness on a DATE column (issue 15 item 2)', () => {
  it('a date counts as its end of day', async () => {
    // test_freshness.py::test_freshness_with_date: max(date_updated) is 2020-06-24, NOW 2020-06-25 12:00:00,
    // "< 1d" passes because the date counts as 2020-06-24 23:59:59.999999 (12h old, not 1d12h).
    const result = await expectAllPass('checks for customers:\n  - freshness(date_updated) < 1d\n', {
      variables: { NOW: '2020-06-25 12:00:00' },
    });
    expect(only(result).value).toBeCloseTo(12 * 3600, 3);
    const stale = await scan('checks for customers:\n  - freshness(date_updated) < 12h\n', {
      variables: { NOW: '2020-06-25 12:00:01' },
    });
    expect(only(stale).outcome).toBe('fail');
  });
});

describe('user-defined metrics with a column argument (issue 15 item 3)', () => {
  it('NAME(column) with "NAME expression" is evaluated, with warn/fail zones', async () => {
    // test_user_defined_metric_checks.py::test_user_defined_table_expression_metric_check.
    const result = await scan(`checks for customers:
  - avg_surface between 1068 and 1069:
      avg_surface expression: AVG(cst_size * distance)
  - ones(cst_size_txt):
      name: The total length of cst_size_txt must be 14
      ones expression: SUM(LENGTH(cst_size_txt))
      warn: when <= 14
      fail: when > 14
`);
    expect(result.errors).toEqual([]);
    expect(result.results.map((r) => [r.name, r.metric, r.value, r.outcome])).toEqual([
      ['avg_surface between 1068 and 1069', 'avg_surface', expect.closeTo(1068.93, 2), 'pass'],
      ['The total length of cst_size_txt must be 14', 'ones(cst_size_txt)', 14, 'warn'],
    ]);
  });
});

describe('schema checks (issue 15 item 4)', () => {
  it('column names are compared as the catalog spells them: quoted names, capitals, hyphens', async () => {
    await expectAllPass(`checks for odd:
  - schema:
      fail:
        when required column missing: [Mixed Case, with-hyphen]
        when wrong column type:
          Mixed Case: integer
          with-hyphen: text
        when wrong column index:
          with-hyphen: 1
`);
  });

  it('a column named under "when wrong column type" or "index" that does not exist fails', async () => {
    // test_schema_column_types.py::test_columns_types_fail: does_not_exist is a missing column;
    // SchemaCheck.get_schema_violations adds the index rule's names to the missing ones too.
    const types = only(
      await scan(
        'checks for customers:\n  - schema:\n      fail:\n        when wrong column type:\n          does_not_exist: integer\n',
      ),
    );
    expect([types.outcome, types.diagnostics.fail_problems]).toEqual([
      'fail',
      ['required column missing: does_not_exist'],
    ]);
    const index = only(
      await scan(
        'checks for customers:\n  - schema:\n      warn:\n        when wrong column index:\n          does_not_exist: 0\n',
      ),
    );
    expect([index.outcome, index.diagnostics.warn_problems]).toEqual([
      'warn',
      ['required column missing: does_not_exist'],
    ]);
  });

  it("types match Soda's alias lists exactly, not whole families", async () => {
    // test_schema_column_types.py::test_columns_types_pass (varchar for character varying) and
    // DataSource.SCHEMA_CHECK_TYPES_MAPPING: each catalog name lists its accepted short forms.
    await expectAllPass(`checks for odd:
  - schema:
      fail:
        when wrong column type:
          vc: varchar
          plain_text: text
          dbl: numeric
          num: numeric
`);
    await expectAllPass(
      'checks for odd:\n  - schema:\n      fail:\n        when wrong column type:\n          vc: text\n          dbl: decimal\n',
    );
    const result = await scan(`checks for odd:
  - schema:
      fail:
        when wrong column type:
          plain_text: varchar
          num: decimal
          vc: character varying(10)
`);
    expect(only(result).diagnostics.fail_problems).toEqual([
      'wrong column type: plain_text is text, expected varchar',
      'wrong column type: num is numeric, expected decimal',
      'wrong column type: vc is character varying, expected character varying(10)',
    ]);
    // test_schema_column_types.py::test_columns_types_fail: pct is character varying, "varchar" is not a mismatch.
    const soda = only(
      await scan(
        'checks for customers:\n  - schema:\n      fail:\n        when wrong column type:\n          id: integer\n          pct: varchar\n',
      ),
    );
    expect(soda.diagnostics.fail_problems).toEqual(['wrong column type: id is character varying, expected integer']);
  });

  it('forbidden-column patterns match as Soda matches them: % and * as .*, from the start of the name', async () => {
    // test_schema_forbidden_columns.py::test_forbidden_columns_fail (id present; "%non_existing%" absent), and
    // SchemaCheck: re.compile(pattern with % and * as .*).match(name), anchored at the start only.
    const soda = only(
      await scan(
        'checks for customers:\n  - schema:\n      fail:\n        when forbidden column present: [id, non_existing_column_one, "%non_existing%"]\n',
      ),
    );
    expect(soda.diagnostics.fail_problems).toEqual(['forbidden column present: id']);
    const odd = only(
      await scan(
        'checks for odd:\n  - schema:\n      fail:\n        when forbidden column present: [tmp, "*_tmp", debug]\n',
      ),
    );
    // "tmp" matches tmp_debug (a prefix), "*_tmp" and "debug" both match debug_tmp (Soda lists it once per
    // pattern), and nothing matches "debug" in the middle of a name.
    expect(odd.diagnostics.fail_problems).toEqual([
      'forbidden column present: tmp_debug',
      'forbidden column present: debug_tmp',
      'forbidden column present: debug_tmp',
    ]);
  });
});

describe('validity forms (issue 15: valid_count, KEY for COLUMN, include null, lengths)', () => {
  it('valid_count and valid_percent', async () => {
    // test_invalid.py::test_valid_with_invalid_config (valid_count with invalid values / format / regex).
    await expectAllPass(`checks for customers:
  - valid_count(id) = 7:
      invalid values: [ID1, ID2]
  - valid_count(id) = 9:
      invalid format: uuid
  - valid_count(id) = 0:
      invalid regex: ID[0-9]
  - valid_percent(id) = 70:
      invalid values: [ID1, ID2]
`);
  });

  it('"valid ... for COLUMN" and "missing ... for COLUMN" configurations apply to every check of the column', async () => {
    // test_invalid.py::test_column_configured_invalid_values, ::test_column_configured_invalid_and_missing_values,
    // ::test_valid_length (both forms).
    await expectAllPass(`checks for customers:
  - invalid_count(id) = 6
  - valid_count(id) = 3
configurations for customers:
  valid values for id: [ID1, ID2, ID3]
`);
    await expectAllPass(`checks for customers:
  - missing_count(pct) = 3
  - invalid_count(pct) = 1
  - valid_count(pct) = 6
configurations for customers:
  missing values for pct: ['N/A', 'No value']
  valid format for pct: percentage
`);
    await expectAllPass(`checks for customers:
  - invalid_count(cat) = 2
  - valid_count(cat) = 3
configurations for customers:
  valid min length for cat: 4
  valid max length for cat: 4
`);
    await expectAllPass(
      'checks for customers:\n  - invalid_count(cat) = 2\n  - valid_count(cat) = 3\nconfigurations for customers:\n  valid length for cat: 4\n',
    );
  });

  it('check and column configurations both apply; valid values add up', async () => {
    // test_invalid.py::test_check_and_column_configured_invalid_values.
    await expectAllPass(`checks for customers:
  - valid_count(id) = 9
  - valid_count(id) = 2:
      valid values: [ID1, ID2]
  - invalid_count(id) = 0
  - invalid_count(id) = 7:
      valid values: [ID1, ID2]
configurations for customers:
  valid regex for id: ID[0-9]
`);
  });

  it('include null counts NULLs as invalid (invalid_count) or valid (valid_count)', async () => {
    // test_invalid.py::test_invalid_include_null, ::test_valid_include_null,
    // ::test_invalid_values_and_max_length(_one_failing_row)(_include_null).
    await expectAllPass(`checks for customers:
  - invalid_count(pct) = 3:
      invalid values: ["error", "No value"]
      include null: True
  - valid_count(pct) = 8:
      invalid values: ["error", "No value"]
      include null: True
  - invalid_count(cat) = 1:
      invalid values: ["LOW"]
      valid max length: 6
  - invalid_count(cat) = 2:
      invalid values: ["LOW"]
      valid max length: 5
  - invalid_count(cat) = 6:
      invalid values: ["LOW"]
      valid max length: 6
      include null: True
`);
  });

  it('valid min / valid max and the email format', async () => {
    // test_invalid.py::test_valid_min_max and ::test_valid_format_email.
    await expectAllPass(`checks for customers:
  - invalid_count(cst_size) = 3:
      valid min: 0
  - invalid_count(cst_size) = 4:
      valid max: 0
  - invalid_count(email) = 2:
      valid format: email
  - invalid_count(id) = 0:
      invalid format: uuid
`);
  });

  it('min_length, max_length, avg_length', async () => {
    // test_min_max_avg_length.py::test_min_max_avg_length.
    await expectAllPass(
      'checks for customers:\n  - min_length(cat) = 3\n  - max_length(cat) = 6\n  - avg_length(cat) = 4.2\n',
    );
  });

  it('a format Soda does not name is an error (exit 3)', async () => {
    // test_invalid.py::test_non_existing_format: Soda logs "Format non-existing is not supported".
    const result = await scan(
      'checks for customers:\n  - invalid_count(email) = 2:\n      valid format: non-existing\n',
    );
    expect(result.results).toEqual([]);
    expect(result.errors.map((e) => e.message)).toEqual([expect.stringMatching(/unknown format "non-existing"/)]);
    expect(result.exitCode).toBe(3);
  });
});
