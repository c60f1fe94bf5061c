/**
 * Runs check files against a database through a {@link SqlExecutor}, with soda scan's outcome
 * rules and exit codes. No `pg` import: the CLI and the Lambda pass in their own executor, and
 * the unit tests can pass a fake one.
 */
import { compileCheck, type Measurement } from './compiler.js';
import { formatDuration } from './duration.js';
import { DqEvaluationError, DqSyntaxError } from './errors.js';
import type { Check } from './model.js';
import { type ColumnInfo, describeThreshold, type Outcome, outcomeOf, schemaProblems } from './outcome.js';
import { parseCheckFile } from './parser.js';
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
  /** `-v NAME=value`; `NOW` (ISO-8601) fixes the freshness reference time. */
  readonly variables?: Readonly<Record<string, string>>;
  /** Scan start; defaults to the current time. */
  readonly startedAt?: Date;
}

/** soda scan: 3 if any error was logged, else 2 if any check failed, else 1 if any warned, else 0. */
export function exitCodeOf(results: readonly CheckResult[], errors: readonly ScanError[]): 0 | 1 | 2 | 3 {
  if (errors.length > 0 || results.some((r) => r.outcome === null)) return 3;
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
      return check.metricName;
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

function judge(
  check: Check,
  m: Measurement,
  nowEpoch: number,
): { value: number | null; outcome: Outcome; diagnostics: Record<string, unknown> } {
  switch (check.type) {
    case 'freshness': {
      const max = m.value;
      if (max === null)
        return { value: null, outcome: 'fail', diagnostics: { max: null, reason: 'no rows: max is NULL' } };
      const age = nowEpoch - max;
      const diagnostics = {
        max: new Date(max * 1000).toISOString(),
        now: new Date(nowEpoch * 1000).toISOString(),
        freshness: formatDuration(age),
      };
      if (check.failAfterSeconds !== undefined && age > check.failAfterSeconds)
        return { value: age, outcome: 'fail', diagnostics };
      if (check.warnAfterSeconds !== undefined && age > check.warnAfterSeconds)
        return { value: age, outcome: 'warn', diagnostics };
      return { value: age, outcome: 'pass', diagnostics };
    }
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

function parseNow(variables: Readonly<Record<string, string>>, startedAt: Date): Date | string {
  const raw = variables.NOW;
  if (raw === undefined) return startedAt;
  // Naive timestamps are UTC in Soda; JavaScript would read them as local time.
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(raw) || !raw.includes('T') ? raw : `${raw}Z`;
  const d = new Date(/T/.test(iso) ? iso : `${iso}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? `variable NOW="${raw}" is not an ISO-8601 timestamp` : d;
}

/** Parses every file, then evaluates every check; one failing check never stops the others. */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const startedAt = options.startedAt ?? new Date();
  const errors: ScanError[] = [];
  const warnings: string[] = [];
  const nowOrError = parseNow(options.variables ?? {}, startedAt);
  if (typeof nowOrError === 'string') {
    return { startedAt, now: startedAt, results: [], errors: [{ message: nowOrError }], warnings, exitCode: 3 };
  }
  const now = nowOrError;
  const variables = { ...(options.variables ?? {}), NOW: options.variables?.NOW ?? now.toISOString() };

  const checks: Check[] = [];
  for (const source of options.files) {
    const parsed = parseCheckFile(source.path, source.text, { variables });
    errors.push(...parsed.errors.map((e) => ({ file: e.pos.file, line: e.pos.line, message: e.message })));
    checks.push(...parsed.file.checks);
  }

  const results: CheckResult[] = [];
  for (const check of checks) {
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
      const rows = sql ? await options.executor.query(sql) : [];
      const measured = compiled.read(rows);
      for (const w of measured.warnings ?? []) warnings.push(`${check.pos.file}:${check.pos.line}: ${w}`);
      const judged = judge(check, measured, now.getTime() / 1000);
      results.push({ ...common, ...judged, ...(sql ? { sql } : {}) });
    } catch (error) {
      if (error instanceof DqSyntaxError) throw error;
      const message =
        error instanceof DqEvaluationError
          ? error.message
          : `query failed: ${error instanceof Error ? error.message : String(error)}`;
      results.push({ ...common, value: null, outcome: null, error: message, diagnostics: {}, ...(sql ? { sql } : {}) });
    }
  }
  return { startedAt, now, results, errors, warnings, exitCode: exitCodeOf(results, errors) };
}
