/**
 * `npm run rehearse`: synthesizes the `localstack` target with every function bundled, then
 * cold-starts each function's built asset with the template's handler string, runtime and
 * environment (infra/rehearsal/cold-start.ts). Prints one line per function and one summary
 * line; exits 1 if any function fails to start.
 *
 * What it does not do yet (see infra/README.md, "Deploy runbook"): run the end-to-end scenario on
 * the embedded stack with these assets. The migrations custom resource's bundled handler is
 * driven with CloudFormation-shaped Create/Update/Delete events in test/infra/localstack.test.ts.
 */
import { rmSync } from 'node:fs';
import { synthesizeTarget } from '../checks/synth.js';
import { coldStartAll } from './cold-start.js';

async function main(): Promise<number> {
  const started = Date.now();
  const synth = synthesizeTarget('localstack', { bundle: true });
  try {
    const results = await coldStartAll(synth.template, synth.outdir);
    for (const r of results) {
      const state = r.ok ? (r.detail.startsWith('skipped') ? 'skip' : 'ok  ') : 'FAIL';
      console.log(
        `${state} ${r.functionName} (${r.handler}, ${r.runtime}) ${r.ms} ms ${r.detail ? `- ${r.detail}` : ''}`,
      );
    }
    const failed = results.filter((r) => !r.ok);
    const started_ = results.filter((r) => r.ok && !r.detail.startsWith('skipped')).length;
    console.log(
      `rehearsal: ${started_} of ${results.length} functions cold-started from cdk.out assets, ${failed.length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return failed.length === 0 ? 0 : 1;
  } finally {
    rmSync(synth.outdir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
