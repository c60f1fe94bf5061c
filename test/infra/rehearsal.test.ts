/**
 * Rehearsal of the deployed artifacts (`npm run rehearse`): the `localstack` target is
 * synthesized with every function bundled, and each built asset in the assembly is cold-started
 * with the template's handler string, runtime and environment. Handlers validate their
 * configuration at import, so a missing bundled dependency, an ESM/CommonJS mismatch or an
 * environment variable named differently in the template and the code fails here.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SynthesizedTarget, synthesizeTarget } from '#infra/checks/synth.js';
import { type ColdStart, coldStartAll } from '#infra/rehearsal/cold-start.js';
import { type FunctionId, topology } from '#topology.js';

let synth: SynthesizedTarget;
let results: ColdStart[];

beforeAll(async () => {
  synth = synthesizeTarget('localstack', { bundle: true });
  results = await coldStartAll(synth.template, synth.outdir);
  for (const r of results) console.log(`${r.ok ? 'ok' : 'FAIL'} ${r.functionName} ${r.ms} ms ${r.detail}`);
}, 600_000);

afterAll(() => rmSync(synth.outdir, { recursive: true, force: true }));

describe('rehearsal: every function cold-starts from its cdk.out asset with the template’s environment', () => {
  it('starts every function', () => {
    expect(results.filter((r) => !r.ok).map((r) => `${r.functionName}: ${r.detail}`)).toEqual([]);
  });

  it('rehearsed each topology function from a bundled asset, not skipped', () => {
    for (const id of Object.keys(topology.functions) as FunctionId[]) {
      const r = results.find((x) => x.functionName.endsWith(topology.functions[id].name));
      expect(r?.ok, id).toBe(true);
      expect(r?.detail ?? '', id).not.toMatch(/^skipped/);
    }
  });

  it('fails a function whose template environment lacks a variable its code requires', async () => {
    const template = structuredClone(synth.template);
    const validator = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        String(r.Properties?.FunctionName).endsWith(topology.functions.validator.name),
    );
    const variables = (validator?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
    variables.ERRORS_QUEUE = variables.ERRORS_QUEUE_URL;
    delete variables.ERRORS_QUEUE_URL;
    const again = await coldStartAll(
      { Resources: Object.fromEntries(Object.entries(template.Resources).filter(([, r]) => r === validator)) },
      synth.outdir,
    );
    expect(again).toHaveLength(1);
    expect(again[0]?.ok).toBe(false);
    expect(again[0]?.detail).toMatch(/ERRORS_QUEUE_URL/);
  }, 120_000);
});
