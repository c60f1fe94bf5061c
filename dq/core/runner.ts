/**
 * Runs check files against a database through a {@link SqlExecutor}, with soda scan's outcome
 * rules and exit codes. No `pg` import: the CLI and the Lambda pass in their own executor, and
 * the unit tests can pass a fake one.
 */
import { compileCheck, type Measurement } from './compiler.js';
import { formatDuration } from './duration.js';
import { DqEvaluationError, DqSyntaxError } from './errors.js';
import { parseIsoTimestamp } from './iso-timestamp.js';
import type { Check, FreshnessCheck } from './model.js';
import { type ColumnInfo, describeThreshold, type Outcome, outcomeOf, schemaProblems } from './outcome.js';
import { type ParseOptions, parseCheckFile } from './parser.js';
import type { SqlQuery } from './sql.js';

export interface SqlExecutor {
  /** Runs one statement and returns its rows as arrays. */
  query(sql: SqlQuery): Promise<readonly (readonly unknown[])[]>;
}

export interface CheckFileSource {
  /** Shown in messages; a path relative to the working directory reads best. */
  readonly path: string;
  readonly text: string;
}

export interface CheckResult {
  readonly file: string;
  readonly line: number;
  /** The check's `name:`, or the check line as written. */
  readonly name: string;
  readonly table: string | null;
  /** Metric label, e.g. `missing_count(sensor_id)`, `freshness(event_time)`, `schema`. */
  readonly metric: string;
  readonly value: number | null;
  /** null when the check could not be evaluated (`error` says why). */
  readonly outcome: Outcome | null;
  readonly error?: string;
  readonly thresholds: string;
  readonly diagnostics: Readonly<Record<string, unknown>>;
  readonly sql?: SqlQuery;
}

export interface ScanResult {
  readonly startedAt: Date;
  /** The `NOW` freshness is measured against (scan start unless the NOW variable is set). */
  readonly now: Date;
  readonly results: readonly CheckResult[];
  /** Syntax and scan-level errors (each check's own error is on its result). */
  readonly errors: readonly ScanError[];
  readonly warnings: readonly string[];
  readonly exitCode: 0 | 1 | 2 | 3;
}

/** A problem outside any one check: a file that cannot be read as SodaCL, a bad NOW. */
export interface ScanError {
  readonly file?: string;
  readonly line?: number;
  /** Complete message, `file:line: detail` when the position is known. */
  readonly message: string;
}

export interface ScanOptions {
  readonly files: readonly CheckFileSource[];
  readonly executor: SqlExecutor;
  /** `-v NAME=value`; `NOW` (read as Python's fromisoformat) fixes the freshness reference time. */
  readonly variables?: Readonly<Record<string, string>>;
  /** The process environment for `${VAR}` (it wins over every other variable, as in Soda); none by default. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Scan start; defaults to the current time. */
  readonly startedAt?: Date;
}

/** soda scan: 3 if any error was logged, else 2 if any check failed, else 1 if any warned, else 0. */
export function exitCodeOf(results: readonly CheckResult[], errors: readonly ScanError[]): 0 | 1 | 2 | 3 {
  if (errors.length > 0 || results.some((r) => r.outcome === null || r.error !== undefined)) return 3;
  if (results.some((r) => r.outcome === 'fail')) return 2;
  if (results.some((r) => r.outcome === 'warn')) return 1;
  return 0;
}

function metricLabel(check: Check): string {
  switch (check.type) {
    case 'metric':
      return check.columns.length > 0 ? `${check.metric}(${check.columns.join(', ')})` : check.metric;
    case 'freshness':
      return `freshness(${check.column})`;
    case 'schema':
      return 'schema';
    case 'failed_rows':
      return 'failed rows';
    case 'user_metric':
      return check.column === undefined ? check.metricName : `${check.metricName}(${check.column})`;
  }
}

function thresholdsOf(check: Check): string {
  if (check.type === 'schema')
    return [check.fail ? 'fail rules' : '', check.warn ? 'warn rules' : ''].filter(Boolean).join(', ');
  if (check.type === 'freshness') {
    return [
      check.failAfterSeconds !== undefined ? `fail when > ${formatDuration(check.failAfterSeconds)}` : '',
      check.warnAfterSeconds !== undefined ? `warn when > ${formatDuration(check.warnAfterSeconds)}` : '',
    ]
      .filter(Boolean)
      .join(', ');
  }
  const a = check.alerts;
  if (a.inline) return `pass when ${describeThreshold(a.inline)}`;
  const parts = [
    a.fail ? `fail when ${describeThreshold(a.fail)}` : '',
    a.warn ? `warn when ${describeThreshold(a.warn)}` : '',
  ];
  if (!a.fail && !a.warn && check.type === 'failed_rows') parts.push('fail when > 0');
  return parts.filter(Boolean).join(', ');
}

interface Judged {
  readonly value: number | null;
  /** null: not evaluated. */
  readonly outcome: Outcome | null;
  readonly diagnostics: Record<string, unknown>;
  /** Set when Soda logs an error for the check (the scan then exits 3 even with an outcome). */
  readonly error?: string;
}

/**
 * FreshnessCheck.evaluate: an undefined "now" variable fails the check with an error; one that
 * is not a timestamp leaves it without outcome (FAIL if the table is empty), with an error.
 */
function judgeFreshness(check: FreshnessCheck, m: Measurement): Judged {
  const max = m.value;
  const maxText = max === null ? null : new Date(max * 1000).toISOString();
  const variable = check.nowVariable;
  if (check.now === undefined) {
    const error = `could not parse variable ${variable} as a timestamp: variable not found`;
    return { value: null, outcome: 'fail', diagnostics: { max: maxText }, error };
  }
  const nowEpoch = parseIsoTimestamp(check.now);
  if (nowEpoch === undefined) {
    const error = `variable ${variable}="${check.now}" is not a timestamp Soda can read (Python datetime.fromisoformat)`;
    return { value: null, outcome: max === null ? 'fail' : null, diagnostics: { max: maxText }, error };
  }
  if (max === null) return { value: null, outcome: 'fail', diagnostics: { max: null, reason: 'no rows: max is NULL' } };
  const age = nowEpoch - max;
  const diagnostics = {
    ...m.diagnostics,
    max: maxText,
    now: new Date(nowEpoch * 1000).toISOString(),
    freshness: formatDuration(age),
  };
  if (check.failAfterSeconds !== undefined && age > check.failAfterSeconds)
    return { value: age, outcome: 'fail', diagnostics };
  if (check.warnAfterSeconds !== undefined && age > check.warnAfterSeconds)
    return { value: age, outcome: 'warn', diagnostics };
  return { value: age, outcome: 'pass', diagnostics };
}

function judge(check: Check, m: Measurement): Judged {
  switch (check.type) {
    case 'freshness':
      return judgeFreshness(check, m);
    case 'schema': {
      const columns = m.diagnostics.columns as ColumnInfo[];
      const failProblems = check.fail ? schemaProblems(check.fail, columns) : [];
      const warnProblems = check.warn ? schemaProblems(check.warn, columns) : [];
      const outcome: Outcome = failProblems.length > 0 ? 'fail' : warnProblems.length > 0 ? 'warn' : 'pass';
      return {
        value: failProblems.length + warnProblems.length,
        outcome,
        diagnostics: { fail_problems: failProblems, warn_problems: warnProblems },
      };
    }
    case 'failed_rows': {
      const value = measuredNumber(check, m);
      const outcome = outcomeOf(check.alerts, value, { kind: 'compare', op: '>', value: 0 });
      return { value, outcome, diagnostics: { ...m.diagnostics } };
    }
    case 'metric':
    case 'user_metric': {
      const value = measuredNumber(check, m);
      return { value, outcome: outcomeOf(check.alerts, value), diagnostics: { ...m.diagnostics } };
    }
  }
}

/** Only freshness may measure "nothing"; for every other check a missing value is an error. */
function measuredNumber(check: Check, m: Measurement): number {
  if (m.value === null) throw new DqEvaluationError(`${check.source}: no value was measured`);
  return m.value;
}

/** The NOW the report shows: the variable when it is readable, else the scan start. */
function reportedNow(raw: string | undefined, startedAt: Date): Date {
  const epoch = raw === undefined ? undefined : parseIsoTimestamp(raw);
  return epoch === undefined ? startedAt : new Date(epoch * 1000);
}

/** Every check of every file, and the problems that kept the others from being read. */
function parseAll(files: readonly CheckFileSource[], options: ParseOptions): { checks: Check[]; errors: ScanError[] } {
  const checks: Check[] = [];
  const errors: ScanError[] = [];
  for (const source of files) {
    const parsed = parseCheckFile(source.path, source.text, options);
    errors.push(...parsed.errors.map((e) => ({ file: e.pos.file, line: e.pos.line, message: e.message })));
    checks.push(...parsed.file.checks);
  }
  return { checks, errors };
}

/** Runs one check; a query or evaluation error becomes the check's result, never the scan's end. */
async function evaluate(check: Check, executor: SqlExecutor, warnings: string[]): Promise<CheckResult> {
  const common = {
    file: check.pos.file,
    line: check.pos.line,
    name: check.name ?? check.source,
    table: check.dataset?.table ?? null,
    metric: metricLabel(check),
    thresholds: thresholdsOf(check),
  };
  let sql: SqlQuery | undefined;
  try {
    const compiled = compileCheck(check);
    sql = compiled.sql;
    const rows = sql ? await executor.query(sql) : [];
    const measured = compiled.read(rows);
    for (const w of measured.warnings ?? []) warnings.push(`${check.pos.file}:${check.pos.line}: ${w}`);
    return { ...common, ...judge(check, measured), ...(sql ? { sql } : {}) };
  } catch (error) {
    if (error instanceof DqSyntaxError) throw error;
    const message =
      error instanceof DqEvaluationError
        ? error.message
        : `query failed: ${error instanceof Error ? error.message : String(error)}`;
    return { ...common, value: null, outcome: null, error: message, diagnostics: {}, ...(sql ? { sql } : {}) };
  }
}

/** Parses every file, then evaluates every check; one failing check never stops the others. */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const startedAt = options.startedAt ?? new Date();
  const warnings: string[] = [];
  // Soda's scan sets NOW to its start time; -v NOW=... (or the environment) replaces it.
  const variables = { NOW: startedAt.toISOString(), ...(options.variables ?? {}) };
  const now = reportedNow(options.environment?.NOW ?? variables.NOW, startedAt);
  const { checks, errors } = parseAll(options.files, {
    variables,
    ...(options.environment ? { environment: options.environment } : {}),
  });
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await evaluate(check, options.executor, warnings));
  return { startedAt, now, results, errors, warnings, exitCode: exitCodeOf(results, errors) };
}
