/**
 * Renders a scan for people (a table-like text report, SQL with --verbose) and for machines
 * (--json). Pure functions of the ScanResult.
 */
import { formatDuration } from './duration.js';
import type { CheckResult, ScanResult } from './runner.js';

const LABEL: Record<string, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

function valueText(r: CheckResult): string {
  if (r.value === null) return r.metric.startsWith('freshness') && r.outcome === 'fail' ? 'no rows' : '-';
  if (r.metric.startsWith('freshness')) return formatDuration(r.value);
  return Number.isInteger(r.value) ? String(r.value) : String(Number(r.value.toPrecision(12)));
}

export function renderText(scan: ScanResult, verbose = false): string {
  const out: string[] = [];
  out.push(`Data-quality scan started ${scan.startedAt.toISOString()} (NOW=${scan.now.toISOString()})`);
  let currentFile = '';
  for (const r of scan.results) {
    if (r.file !== currentFile) {
      currentFile = r.file;
      out.push('', `${r.file}`);
    }
    const outcome = r.outcome === null ? 'ERROR' : LABEL[r.outcome];
    out.push(
      `  ${outcome?.padEnd(5)} ${r.table ? `[${r.table}] ` : ''}${r.name}  value=${valueText(r)}  (${r.thresholds}; line ${r.line})`,
    );
    if (r.error) out.push(`        error: ${r.error}`);
    const problems = [
      ...((r.diagnostics.fail_problems as string[] | undefined) ?? []),
      ...((r.diagnostics.warn_problems as string[] | undefined) ?? []),
    ];
    for (const p of problems) out.push(`        ${p}`);
    if (r.metric.startsWith('freshness') && r.diagnostics.max !== undefined)
      out.push(`        max=${String(r.diagnostics.max)}`);
    if (verbose && r.sql) {
      out.push(`        sql: ${r.sql.text.replace(/\s+/g, ' ')}`);
      if (r.sql.params.length > 0) out.push(`        params: ${JSON.stringify(r.sql.params)}`);
    }
  }
  if (scan.warnings.length > 0) out.push('', 'Warnings:', ...scan.warnings.map((w) => `  ${w}`));
  if (scan.errors.length > 0) out.push('', 'Errors:', ...scan.errors.map((e) => `  ${e.message}`));
  const count = (o: string | null): number => scan.results.filter((r) => r.outcome === o).length;
  out.push(
    '',
    `${scan.results.length} checks: ${count('pass')} passed, ${count('warn')} warned, ${count('fail')} failed, ${count(null)} errored` +
      `${scan.errors.length > 0 ? `; ${scan.errors.length} file error(s)` : ''}. Exit code ${scan.exitCode}.`,
  );
  return out.join('\n');
}

export function renderJson(scan: ScanResult, verbose = false): string {
  return JSON.stringify(
    {
      startedAt: scan.startedAt.toISOString(),
      now: scan.now.toISOString(),
      exitCode: scan.exitCode,
      errors: scan.errors.map((e) => e.message),
      warnings: scan.warnings,
      checks: scan.results.map((r) => ({
        file: r.file,
        line: r.line,
        name: r.name,
        table: r.table,
        metric: r.metric,
        value: r.value,
        outcome: r.outcome ?? 'error',
        thresholds: r.thresholds,
        ...(r.error ? { error: r.error } : {}),
        diagnostics: r.diagnostics,
        ...(verbose && r.sql ? { sql: r.sql } : {}),
      })),
    },
    null,
    2,
  );
}
