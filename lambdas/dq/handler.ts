/**
 * Data-quality Lambda, run by an EventBridge schedule (topology.schedules): runs the SodaCL
 * check files in soda/checks with the same runner as `npm run dq`, stores every result in
 * dq_check_results and publishes counts as metrics. The alarm watches `DqChecksFailed` and
 * `DqChecksErrored` (namespace IoTFirst, dimension service=dq).
 *
 * Failing checks are a data outcome, not an invocation error: the handler returns normally so
 * EventBridge does not retry a scan that worked. It throws only when the scan could not run at
 * all (database unreachable), which is worth a retry.
 *
 * Where the check files come from, first match wins:
 *   1. DQ_CHECKS_DIR;
 *   2. $LAMBDA_TASK_ROOT/soda/checks: the CDK bundling copies soda/checks next to the bundle
 *      (an esbuild bundle has no source tree to resolve against);
 *   3. soda/checks of the source tree (embedded host and tests run the handler from source).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readConfig, settings } from '#config/env.js';
import { DEFAULT_CHECKS_DIR, loadCheckFiles } from '#dq/adapters/check-files.js';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { pgResultStore } from '#dq/adapters/pg-result-store.js';
import { type RunSummary, runScheduledChecks } from '#dq/core/scheduled-run.js';
import { createTelemetry, MetricUnit } from '#observability/telemetry.js';

const config = readConfig(
  'dq',
  z.object({
    DQ_CHECKS_DIR: z.string().min(1).optional(),
    /** Per check statement; keeps one slow check from eating the whole invocation. */
    DQ_STATEMENT_TIMEOUT_MS: settings.positiveInt(30_000),
  }),
);
databaseSourceFromEnv(); // fail the cold start when no database is configured

export function resolveChecksDir(env: Record<string, string | undefined> = process.env): string {
  if (env.DQ_CHECKS_DIR) return env.DQ_CHECKS_DIR;
  if (env.LAMBDA_TASK_ROOT) {
    const bundled = path.join(env.LAMBDA_TASK_ROOT, 'soda', 'checks');
    if (existsSync(bundled)) return bundled;
  }
  return DEFAULT_CHECKS_DIR;
}

const checksDir = config.DQ_CHECKS_DIR ?? resolveChecksDir();
const { logger, metrics } = createTelemetry('dq');

export const handler = async (event: Partial<ScheduledEvent> | undefined, context: Context): Promise<RunSummary> => {
  const runId = event?.id ?? context.awsRequestId;
  logger.appendKeys({ correlation_id: runId, request_id: context.awsRequestId });
  try {
    const files = await loadCheckFiles([checksDir], checksDir);
    const pool = await sharedPool();
    const client = await pool.connect();
    let summary: RunSummary;
    try {
      const run = await runScheduledChecks({
        runId,
        files,
        executor: pgExecutor(client, { statementTimeoutMs: config.DQ_STATEMENT_TIMEOUT_MS }),
        store: pgResultStore(client),
      });
      summary = run.summary;
      for (const r of run.scan.results) {
        if (r.outcome === 'pass') continue;
        const entry = {
          check: r.name,
          file: r.file,
          line: r.line,
          table: r.table,
          value: r.value,
          thresholds: r.thresholds,
          diagnostics: r.diagnostics,
        };
        if (r.outcome === null) logger.error('data-quality check not evaluated', { ...entry, error: r.error });
        else logger.warn(`data-quality check ${r.outcome === 'fail' ? 'failed' : 'warned'}`, entry);
      }
      for (const e of run.scan.errors) logger.error('check file error', { error: e.message });
    } finally {
      client.release();
    }
    metrics.addMetric('DqChecksPassed', MetricUnit.Count, summary.passed);
    metrics.addMetric('DqChecksWarned', MetricUnit.Count, summary.warned);
    metrics.addMetric('DqChecksFailed', MetricUnit.Count, summary.failed);
    metrics.addMetric('DqChecksErrored', MetricUnit.Count, summary.errored);
    logger.info('data-quality run finished', { ...summary });
    return summary;
  } finally {
    metrics.publishStoredMetrics();
    logger.removeKeys(['correlation_id', 'request_id']);
  }
};
