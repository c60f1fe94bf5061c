/**
 * What the data-quality Lambda reads and writes around its scan, kept out of the handler so it
 * stays a thin entry point: where the check files are, and the log of what did not pass.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { DEFAULT_CHECKS_DIR } from '#dq/adapters/check-files.js';
import type { ScanResult } from '#dq/core/runner.js';

/**
 * Where the check files come from, first match wins: DQ_CHECKS_DIR; $LAMBDA_TASK_ROOT/soda/checks
 * (the CDK bundling copies them next to the bundle, which has no source tree to resolve
 * against); soda/checks of the source tree (the embedded host and tests run from source).
 */
export function resolveChecksDir(env: Record<string, string | undefined> = process.env): string {
  if (env.DQ_CHECKS_DIR) return env.DQ_CHECKS_DIR;
  const bundled = env.LAMBDA_TASK_ROOT && path.join(env.LAMBDA_TASK_ROOT, 'soda', 'checks');
  return bundled && existsSync(bundled) ? bundled : DEFAULT_CHECKS_DIR;
}
/** Names that hold credentials: the runtime's own keys and anything named like a secret. */
const CREDENTIAL_NAME =
  /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)$|PASSWORD|SECRET|TOKEN|CREDENTIAL|^DATABASE_URL$/i;

/**
 * The environment a check file's `${NAME}` may read, as `soda scan` reads the process
 * environment, minus credentials: a check's SQL text is logged and stored with its result, so a
 * `${AWS_SECRET_ACCESS_KEY}` or `${DB_PASSWORD}` must stay unresolved (and be reported on its
 * line) rather than be copied into the database.
 */
export function checkVariablesFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !CREDENTIAL_NAME.test(name)));
}

/**
 * Every check that did not pass, and every check file that could not be read, one line each,
 * so a failing alarm leads straight to its check.
 */
export function logFindings(logger: Logger, scan: ScanResult): void {
  for (const r of scan.results) {
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
  for (const e of scan.errors) logger.error('check file error', { error: e.message });
}
