/**
 * `npm run rehearse`: synthesizes the `localstack` target with every function bundled, then
 * 1. cold-starts each function's built asset in a fresh Node process with the template's handler
 *    string, runtime and environment (cold-start.ts), one line per function;
 * 2. runs the end-to-end scenario on the embedded stack with those assets, the template's event
 *    sources, schedules, queues and redrive settings (end-to-end.ts), and prints one summary line.
 * Exits 1 when a function fails to start or the scenario does not complete, with the reason.
 */
import { rmSync } from 'node:fs';
import { synthesizeTarget } from '../checks/synth.js';
import { PROJECT_ROOT } from '../pipeline-stack.js';
import { coldStartAll } from './cold-start.js';
import { rehearse, summaryLine } from './end-to-end.js';

async function main(): Promise<number> {
  const synth = synthesizeTarget('localstack', { bundle: true });
  try {
    const results = await coldStartAll(synth.template, synth.outdir);
    for (const r of results) {
      const state = r.ok ? (r.detail.startsWith('skipped') ? 'skip' : 'ok  ') : 'FAIL';
      console.log(
        `${state} cold start ${r.functionName} (${r.handler}, ${r.runtime}) ${r.ms} ms ${r.detail ? `- ${r.detail}` : ''}`,
      );
    }
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      console.log(
        `rehearsal: ${failed.length} of ${results.length} functions failed to cold-start from cdk.out assets`,
      );
      return 1;
    }
    const report = await rehearse({
      template: synth.template,
      outdir: synth.outdir,
      projectRoot: PROJECT_ROOT,
      log: (line) => console.log(`  ${line}`),
    });
    for (const f of report.findings) console.log(`finding: ${f}`);
    console.log(summaryLine(report));
    return 0;
  } catch (error) {
    console.log(`rehearsal failed: ${(error as Error).message}`);
    return 1;
  } finally {
    rmSync(synth.outdir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
