/**
 * Writes a run's results to dq_check_results in one statement (jsonb_to_recordset: one round
 * trip whatever the number of checks). ON CONFLICT makes a retried invocation of the same run
 * (same scheduler event id) replace its rows rather than duplicate them.
 */
import type pg from 'pg';
import type { ResultStore, StoredResult } from '#dq/core/scheduled-run.js';

const INSERT = `
INSERT INTO dq_check_results (run_id, check_file, check_line, check_name, table_name, metric, metric_value,
                              outcome, thresholds, diagnostics, error, run_started_at)
SELECT run_id, check_file, check_line, check_name, table_name, metric, metric_value,
       outcome, thresholds, coalesce(diagnostics, '{}'::jsonb), error, run_started_at
FROM jsonb_to_recordset($1::jsonb) AS x(run_id text, check_file text, check_line integer, check_name text,
     table_name text, metric text, metric_value double precision, outcome text, thresholds text,
     diagnostics jsonb, error text, run_started_at timestamptz)
ON CONFLICT (run_id, check_file, check_line) DO UPDATE SET
  check_name = EXCLUDED.check_name, table_name = EXCLUDED.table_name, metric = EXCLUDED.metric,
  metric_value = EXCLUDED.metric_value, outcome = EXCLUDED.outcome, thresholds = EXCLUDED.thresholds,
  diagnostics = EXCLUDED.diagnostics, error = EXCLUDED.error, run_started_at = EXCLUDED.run_started_at,
  checked_at = now()`;

export function pgResultStore(db: pg.Pool | pg.ClientBase): ResultStore {
  return {
    async save(rows: readonly StoredResult[]) {
      if (rows.length === 0) return;
      const records = rows.map((r) => ({
        run_id: r.runId,
        check_file: r.checkFile,
        check_line: r.checkLine,
        check_name: r.checkName,
        table_name: r.tableName,
        metric: r.metric,
        metric_value: r.metricValue,
        outcome: r.outcome,
        thresholds: r.thresholds,
        diagnostics: r.diagnostics,
        error: r.error,
        run_started_at: r.runStartedAt.toISOString(),
      }));
      await db.query(INSERT, [JSON.stringify(records)]);
    },
  };
}
