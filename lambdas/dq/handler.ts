/**
 * Data-quality Lambda, run by an EventBridge schedule (topology.schedules): runs the SodaCL
 * check files with the same runner as `npm run dq`, stores every result in dq_check_results and
 * publishes counts; the alarm watches `DqChecksFailed` and `DqChecksErrored` (namespace
 * IoTFirst, dimension service=dq). Failing checks are a data outcome, not an invocation error:
 * it returns normally so EventBridge does not retry a scan that worked, and throws only when
 * the scan could not run at all (database unreachable), which is worth a retry.
 */
import type { ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { databaseSourceFromEnv, sharedPool } from '#adapters/postgres/pool.js';
import { readConfig, settings } from '#config/env.js';
import { loadCheckFiles } from '#dq/adapters/check-files.js';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { pgResultStore } from '#dq/adapters/pg-result-store.js';
import { runScheduledChecks } from '#dq/core/scheduled-run.js';
import { instrumentedHandler } from '#observability/handler.js';
import { checkVariablesFromEnv, logFindings, resolveChecksDir } from './scan-io.js';

const config = readConfig(
  'dq',
  z.object({
    DQ_CHECKS_DIR: z.string().min(1).optional(),
    /** Per check statement; keeps one slow check from eating the whole invocation. */
    DQ_STATEMENT_TIMEOUT_MS: settings.positiveInt(30_000),
  }),
);
databaseSourceFromEnv(); // fail the cold start when no database is configured

const checksDir = config.DQ_CHECKS_DIR ?? resolveChecksDir();

export const handler = instrumentedHandler('dq', {
  correlationId: (event: Partial<ScheduledEvent> | undefined) => event?.id,
  run: async (event, { logger, count, context }) => {
    const runId = event?.id ?? context?.awsRequestId ?? `dq-${Date.now()}`;
    const files = await loadCheckFiles([checksDir], checksDir);
    const client = await (await sharedPool()).connect();
    try {
      const executor = pgExecutor(client, { statementTimeoutMs: config.DQ_STATEMENT_TIMEOUT_MS });
      const { summary, scan } = await runScheduledChecks({
        runId,
        files,
        executor,
        store: pgResultStore(client),
        environment: checkVariablesFromEnv(),
      });
      logFindings(logger, scan);
      const { passed, warned, failed, errored } = summary;
      count({ DqChecksPassed: passed, DqChecksWarned: warned, DqChecksFailed: failed, DqChecksErrored: errored });
      logger.info('data-quality run finished', { ...summary });
      return summary;
    } finally {
      client.release();
    }
  },
});
