/**
 * The scheduled data-quality run (lambdas/dq): one scan of the check files, every result kept
 * in `dq_check_results`, and counts for the metrics the alarm watches. Free of `pg` and of the
 * Lambda runtime, so it is tested with a real database and any executor/store.
 */
import { type CheckFileSource, type CheckResult, runScan, type ScanResult, type SqlExecutor } from './runner.js';

/** When two results share a key, the one the alarm must see wins. */
const OUTCOME_RANK: Record<StoredResult['outcome'], number> = { pass: 0, warn: 1, fail: 2, error: 3 };

/** One row of dq_check_results. */
export interface StoredResult {
  readonly runId: string;
  readonly checkFile: string;
  readonly checkLine: number;
  readonly checkName: string;
  readonly tableName: string | null;
  readonly metric: string;
  readonly metricValue: number | null;
  readonly outcome: 'pass' | 'warn' | 'fail' | 'error';
  readonly thresholds: string;
  readonly diagnostics: Readonly<Record<string, unknown>>;
  readonly error: string | null;
  readonly runStartedAt: Date;
}

export interface ResultStore {
  /** Idempotent per (runId, file, line): a retried run replaces its own rows. */
  save(rows: readonly StoredResult[]): Promise<void>;
}

export interface RunSummary {
  readonly runId: string;
  readonly exitCode: 0 | 1 | 2 | 3;
  readonly passed: number;
  readonly warned: number;
  readonly failed: number;
  /** Checks not evaluated plus file-level errors (each is stored as an 'error' row). */
  readonly errored: number;
  readonly checks: number;
}

function toRow(runId: string, scan: ScanResult, r: CheckResult): StoredResult {
  return {
    runId,
    checkFile: r.file,
    checkLine: r.line,
    checkName: r.name,
    tableName: r.table,
    metric: r.metric,
    metricValue: r.value,
    outcome: r.outcome ?? 'error',
    thresholds: r.thresholds,
    diagnostics: r.diagnostics,
    error: r.error ?? (r.outcome === null ? 'not evaluated' : null),
    runStartedAt: scan.startedAt,
  };
}

export interface ScheduledRunOptions {
  readonly runId: string;
  readonly files: readonly CheckFileSource[];
  readonly executor: SqlExecutor;
  readonly store: ResultStore;
  readonly variables?: Readonly<Record<string, string>>;
  /** For `${VAR}`: the Lambda's environment, if its caller passes it. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  readonly startedAt?: Date;
}

/** A file that could not be parsed is a result too: the alarm on errors must see it. */
function fileErrorRow(runId: string, scan: ScanResult, e: ScanResult['errors'][number]): StoredResult {
  return {
    runId,
    checkFile: e.file ?? '(scan)',
    checkLine: e.line ?? 1,
    checkName: 'check file could not be run',
    tableName: null,
    metric: 'syntax',
    metricValue: null,
    outcome: 'error',
    thresholds: '',
    diagnostics: {},
    error: e.message,
    runStartedAt: scan.startedAt,
  };
}

/**
 * Two results on one file:line (two file errors, or two checks written on one line) would
 * collide on the key; the worse outcome is kept (the first among equals).
 */
function oneRowPerKey(rows: readonly StoredResult[]): StoredResult[] {
  const byKey = new Map<string, StoredResult>();
  for (const r of rows) {
    const key = `${r.checkFile}\u0000${r.checkLine}`;
    const kept = byKey.get(key);
    if (!kept || OUTCOME_RANK[r.outcome] > OUTCOME_RANK[kept.outcome]) byKey.set(key, r);
  }
  return [...byKey.values()];
}

function summarize(runId: string, scan: ScanResult, rows: readonly StoredResult[]): RunSummary {
  const count = (o: StoredResult['outcome']): number => rows.filter((r) => r.outcome === o).length;
  return {
    runId,
    exitCode: scan.exitCode,
    passed: count('pass'),
    warned: count('warn'),
    failed: count('fail'),
    errored: count('error'),
    checks: rows.length,
  };
}

export async function runScheduledChecks(
  options: ScheduledRunOptions,
): Promise<{ summary: RunSummary; scan: ScanResult }> {
  const scan = await runScan({
    files: options.files,
    executor: options.executor,
    ...(options.variables ? { variables: options.variables } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
  });
  const rows = oneRowPerKey([
    ...scan.results.map((r) => toRow(options.runId, scan, r)),
    ...scan.errors.map((e) => fileErrorRow(options.runId, scan, e)),
  ]);
  await options.store.save(rows);
  return { scan, summary: summarize(options.runId, scan, rows) };
}
