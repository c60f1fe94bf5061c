/**
 * `npm run check:templates`: synthesizes the `aws` and `localstack` targets and checks both
 * templates against the CloudFormation resource specification and this stack's value rules
 * (infra/checks). Prints every finding, and every allow-listed one with its reason; exits 1 when
 * a finding is not allow-listed or an allow-list entry explains nothing.
 */
import { rmSync } from 'node:fs';
import type { Target } from '../settings.js';
import { ALLOWED_FINDINGS, type Screened, unusedEntries } from './allow-list.js';
import { checkTemplate } from './check.js';
import { loadResourceSpec } from './schema.js';
import { synthesizeTarget } from './synth.js';
import { formatFinding } from './template.js';

const TARGETS: readonly Target[] = ['aws', 'localstack'];

async function main(): Promise<number> {
  const spec = await loadResourceSpec();
  const results: Screened[] = [];
  let failed = 0;
  for (const target of TARGETS) {
    const synth = synthesizeTarget(target);
    try {
      const result = checkTemplate(spec, synth.template);
      results.push(result);
      const count = Object.keys(synth.template.Resources).length;
      console.log(
        `${target}: ${count} resources, ${result.findings.length} findings, ${result.allowed.length} allow-listed`,
      );
      for (const f of result.findings) console.log(`  FINDING ${formatFinding(f)}`);
      for (const a of result.allowed)
        console.log(`  allowed ${formatFinding(a.finding)}\n          reason: ${a.reason}`);
      failed += result.findings.length;
    } finally {
      rmSync(synth.outdir, { recursive: true, force: true });
    }
  }
  for (const entry of unusedEntries(results, ALLOWED_FINDINGS)) {
    console.log(`  UNUSED allow-list entry (${entry.kind} on ${entry.resourceType}): remove it`);
    failed++;
  }
  console.log(failed === 0 ? 'templates: OK' : `templates: ${failed} problem(s)`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
