/**
 * The parser's promise: everything outside the supported subset is an error naming file and
 * line (exit 3), never a check silently skipped; and what is supported parses to the meaning in
 * docs/sodacl-v3.md.
 */
import { describe, expect, it } from 'vitest';
import { percent, pythonRound2 } from '#dq/core/compiler.js';
import { formatDuration } from '#dq/core/duration.js';
import { holds, outcomeOf, sameType } from '#dq/core/outcome.js';
import { parseCheckFile, parseThreshold } from '#dq/core/parser.js';
import { runScan } from '#dq/core/runner.js';

const pos = { file: 'f.yml', line: 1 };

function errorsOf(text: string): string[] {
  return parseCheckFile('f.yml', text).errors.map((e) => e.message);
}

describe('malformed or unsupported check files', () => {
  const cases: [string, string, RegExp][] = [
    [
      'unknown metric',
      'checks for t:\n  - row_count > 0\n  - percentile(x, 0.95) > 1\n',
      /^f\.yml:3: unsupported check "percentile\(x, 0\.95\) > 1"/,
    ],
    ['malformed threshold', 'checks for t:\n  - row_count >> 5\n', /^f\.yml:2: unsupported threshold ">> 5"/],
    [
      'unsupported nested key',
      "checks for t:\n  - missing_count(a) = 0:\n      missing values: ['']\n      valid formats: email\n",
      /^f\.yml:4: unsupported key "valid formats"/,
    ],
    [
      'a format Soda does not name',
      'checks for t:\n  - invalid_count(a) = 0:\n      valid format: e-mail\n',
      /^f\.yml:3: "valid format": unknown format "e-mail"/,
    ],
    ['misspelt key', 'checks for t:\n  - row_count > 0:\n      nmae: x\n', /^f\.yml:3: unsupported key "nmae"/],
    ['YAML syntax', 'checks for t:\n  - row_count > 0\n - row_count < 5\n', /^f\.yml:\d+: YAML: /],
    [
      'partition without filter',
      'checks for t [daily]:\n  - row_count > 0\n',
      /^f\.yml:1: .*no "filter t \[daily\]:" is declared earlier/,
    ],
    [
      'unsupported section',
      'for each dataset T:\n  datasets: [a]\n',
      /^f\.yml:1: unsupported top-level section "for each dataset T"/,
    ],
    [
      'unsupported schema rule',
      'checks for t:\n  - schema:\n      fail:\n        when schema changes: any\n',
      /^f\.yml:4: unsupported schema rule "when schema changes"/,
    ],
    ['unsupported duration', 'checks for t:\n  - freshness(ts) < 1w\n', /^f\.yml:2: unsupported duration "1w"/],
    [
      'freshness with another operator',
      'checks for t:\n  - freshness(ts) > 1h\n',
      /^f\.yml:2: freshness takes "< DURATION"/,
    ],
    ['no threshold', 'checks for t:\n  - row_count\n', /^f\.yml:2: "row_count" has no threshold/],
    [
      'warn without when',
      'checks for t:\n  - row_count:\n      warn: above 5\n',
      /^f\.yml:3: "warn:" must be "when <threshold>"/,
    ],
    [
      'several columns on a one-column metric',
      'checks for t:\n  - missing_count(a, b) = 0\n',
      /^f\.yml:2: "missing_count" takes one column/,
    ],
    [
      'column that is not an identifier',
      'checks for t:\n  - missing_count(a; DROP TABLE t) = 0\n',
      /^f\.yml:2: "a; DROP TABLE t" is not a column name/,
    ],
    [
      'failed rows without condition',
      'checks for t:\n  - failed rows:\n      name: x\n',
      /^f\.yml:2: a "failed rows" check needs exactly one of/,
    ],
    [
      'undefined variable',
      'checks for t:\n  - row_count > ${LIMIT}\n',
      /^f\.yml:2: variable \$\{LIMIT\} is not defined/,
    ],
    [
      'valid min not a number',
      "checks for t:\n  - invalid_count(a) = 0:\n      valid min: 'zero'\n",
      /^f\.yml:3: "valid min" must be a number/,
    ],
    [
      'missing values not a list',
      "checks for t:\n  - missing_count(a) = 0:\n      missing values: ''\n",
      /^f\.yml:3: "missing values" must be a list/,
    ],
    [
      'duplicate with a validity key',
      'checks for t:\n  - duplicate_count(a) = 0:\n      valid min: 1\n',
      /^f\.yml:3: unsupported key "valid min"/,
    ],
    [
      'freshness with a second argument that is not a variable name',
      'checks for t:\n  - freshness(ts, 2026) < 1d\n',
      /^f\.yml:2: freshness takes a column and optionally a variable name/,
    ],
    [
      'a configuration key Soda does not have',
      'configurations for t:\n  valid colour for a: red\nchecks for t:\n  - row_count > 0\n',
      /^f\.yml:2: unsupported configuration "valid colour for a"/,
    ],
    [
      'include null that is not a boolean',
      'checks for t:\n  - invalid_count(a) = 0:\n      invalid values: [x]\n      include null: yes\n',
      /^f\.yml:4: "include null" must be true or false/,
    ],
    [
      'a value list mixing strings and numbers (Soda: only strings or only numbers)',
      'checks for t:\n  - invalid_count(a) = 0:\n      valid values: [1, a]\n',
      /^f\.yml:3: "valid values": only strings or only numbers/,
    ],
    [
      'a numeric format with valid min (Soda casts text to numbers there)',
      'checks for t:\n  - invalid_count(a) = 0:\n      valid format: integer\n      valid min: 0\n',
      /^f\.yml:2: numeric "valid format: integer" with "valid min"/,
    ],
    [
      'a filter on a NAME(column) expression (Soda logs an error)',
      'checks for t:\n  - ones(a) > 0:\n      ones expression: SUM(LENGTH(a))\n      filter: a > 0\n',
      /^f\.yml:4: "filter" can't be combined with "ones expression"/,
    ],
    ['empty file', '', /^f\.yml:1: the file holds no checks/],
    ['duplicate YAML key', 'checks for t:\n  - row_count > 0\nchecks for t:\n  - row_count > 1\n', /^f\.yml:3: YAML: /],
  ];
  it.each(cases)('%s', (_label, text, expected) => {
    const errors = errorsOf(text);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(expected);
  });

  it('a scan over a malformed file exits 3 without running anything for that check', async () => {
    const executed: string[] = [];
    const result = await runScan({
      files: [{ path: 'f.yml', text: 'checks for t:\n  - percentile(x, 0.9) > 1\n' }],
      executor: {
        query: async (q) => {
          executed.push(q.text);
          return [[0]];
        },
      },
    });
    expect(result.exitCode).toBe(3);
    expect(result.results).toEqual([]);
    expect(executed).toEqual([]);
  });
});

describe('supported syntax', () => {
  it('parses every check form with its line', () => {
    const { file, errors } = parseCheckFile(
      'f.yml',
      [
        'filter t [recent]:',
        "  where: ts > now() - interval '1 day'",
        'configurations for t:',
        "  missing values for a: ['N/A']",
        'checks for t [recent]:',
        '  - row_count between (1 and 10]',
        '  - missing_percent(a) < 5%:',
        "      missing values: ['']",
        '  - duplicate_count(a, "B") = 0',
        '  - freshness(ts) < 1d12h',
        '  - schema:',
        '      warn:',
        '        when forbidden column present: [tmp_%]',
        '  - failed rows:',
        '      fail condition: a < 0',
        '  - avg_x between 1 and 2:',
        '      avg_x expression: AVG(x)',
        'checks:',
        '  - failed rows:',
        '      fail query: SELECT 1',
      ].join('\n'),
    );
    expect(errors).toEqual([]);
    expect(file.checks.map((c) => [c.type, c.pos.line])).toEqual([
      ['metric', 6],
      ['metric', 7],
      ['metric', 9],
      ['freshness', 10],
      ['schema', 11],
      ['failed_rows', 14],
      ['user_metric', 16],
      ['failed_rows', 19],
    ]);
    const missing = file.checks[1]!;
    expect(missing.type === 'metric' && missing.config.missingValues).toEqual(['N/A', '']);
    expect(missing.dataset).toEqual({ table: 't', partition: 'recent', where: "ts > now() - interval '1 day'" });
    // Unquoted names fold to lower case as PostgreSQL folds them; quoted ones keep their case.
    const dup = file.checks[2]!;
    expect(dup.type === 'metric' && dup.columns).toEqual(['a', 'B']);
    const fresh = file.checks[3]!;
    expect(fresh.type === 'freshness' && fresh.failAfterSeconds).toBe(36 * 3600);
  });

  it('between bounds: bare inclusive, ( ) exclusive, per side; not between negates', () => {
    expect(parseThreshold('between 1 and 2', pos)).toEqual({
      kind: 'between',
      negated: false,
      low: 1,
      lowInclusive: true,
      high: 2,
      highInclusive: true,
    });
    expect(parseThreshold('between (1 and 2]', pos)).toMatchObject({ lowInclusive: false, highInclusive: true });
    expect(parseThreshold('not between [-1.5 and 2e3)', pos)).toMatchObject({
      negated: true,
      low: -1.5,
      high: 2000,
      lowInclusive: true,
      highInclusive: false,
    });
    const open = parseThreshold('between (1 and 2)', pos);
    expect([1, 1.5, 2].map((v) => holds(open, v))).toEqual([false, true, false]);
    const notClosed = parseThreshold('not between 1 and 2', pos);
    expect([0.9, 1, 2, 2.1].map((v) => holds(notClosed, v))).toEqual([true, false, false, true]);
    expect(parseThreshold('<> 3', pos)).toEqual({ kind: 'compare', op: '!=', value: 3 });
    expect(parseThreshold('< 5%', pos)).toEqual({ kind: 'compare', op: '<', value: 5 });
  });

  it('outcomes: inline is the pass condition and wins; fail before warn', () => {
    const gt = (value: number) => ({ kind: 'compare' as const, op: '>' as const, value });
    expect(outcomeOf({ inline: gt(0), fail: gt(1) }, 5)).toBe('pass');
    expect(outcomeOf({ warn: gt(1), fail: gt(2) }, 5)).toBe('fail');
    expect(outcomeOf({ warn: gt(1), fail: gt(10) }, 5)).toBe('warn');
    expect(outcomeOf({ warn: gt(1) }, 0, gt(0))).toBe('pass');
    expect(outcomeOf({}, 1, gt(0))).toBe('fail');
  });

  it('Python rounding of percentages, 0 when either side is 0', () => {
    expect(pythonRound2(0.125)).toBe(0.12);
    expect(pythonRound2(0.375)).toBe(0.38);
    expect(pythonRound2(2.675)).toBe(2.67); // 2.67499999... in binary
    expect(pythonRound2(1.005)).toBe(1); // 1.00499999...
    expect(pythonRound2(33.33333333333333)).toBe(33.33);
    expect(percent(1, 3)).toBe(33.33);
    expect(percent(2, 3)).toBe(66.67);
    expect(percent(0, 0)).toBe(0);
    expect(percent(5, 0)).toBe(0);
  });

  it("schema type aliases are Soda's one-directional lists (DataSource.SCHEMA_CHECK_TYPES_MAPPING)", () => {
    expect(sameType('varchar', 'character varying')).toBe(true);
    expect(sameType('text', 'character varying')).toBe(true);
    expect(sameType('character varying', 'text')).toBe(true);
    expect(sameType('decimal', 'double precision')).toBe(true);
    expect(sameType('numeric', 'double precision')).toBe(true);
    expect(sameType('timestamp', 'timestamp without time zone')).toBe(true);
    expect(sameType('TIMESTAMPTZ', 'timestamp with time zone')).toBe(true);
    expect(sameType('timestamp', 'timestamp with time zone')).toBe(false);
    expect(sameType('integer', 'bigint')).toBe(false);
    // Not families: two short forms of one catalog type do not match each other.
    expect(sameType('varchar', 'text')).toBe(false);
    expect(sameType('decimal', 'numeric')).toBe(false);
  });

  it('new forms parse: freshness(col, VAR), KEY for COLUMN merged with the check, NAME(column) expressions', () => {
    const { file, errors } = parseCheckFile(
      'f.yml',
      `configurations for t:
  missing values for a: [N/A]
  valid values for a: [x]
  valid format for a: email
checks for t:
  - freshness(ts, MY_NOW) < 1d
  - valid_percent(a) > 50:
      valid values: [y]
      valid format: uuid
      include null: true
  - ones(a) > 0:
      ones expression: SUM(LENGTH(a))
`,
      { variables: { MY_NOW: '2026-01-01 00:00:00' } },
    );
    expect(errors).toEqual([]);
    const [freshness, valid, ones] = file.checks;
    expect(freshness).toMatchObject({
      type: 'freshness',
      column: 'ts',
      nowVariable: 'MY_NOW',
      now: '2026-01-01 00:00:00',
    });
    expect(valid).toMatchObject({
      type: 'metric',
      metric: 'valid_percent',
      hasValueConfig: true,
      config: { missingValues: ['N/A'], validValues: ['x', 'y'], validFormat: 'uuid', includeNull: true },
    });
    expect(ones).toMatchObject({ type: 'user_metric', metricName: 'ones', column: 'a', expression: 'SUM(LENGTH(a))' });
  });

  it('durations render as written', () => {
    expect(formatDuration(36 * 3600 + 61)).toBe('1d12h1m1s');
    expect(formatDuration(0)).toBe('0s');
  });
});
