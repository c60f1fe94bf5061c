/**
 * Rehearsal of the deployed artifacts (`npm run rehearse`): the `localstack` target is
 * synthesized once with every function bundled; then
 * - each built asset in the assembly is cold-started with the template's handler string,
 *   runtime and environment (a missing bundled dependency, an ESM/CommonJS mismatch or an
 *   environment variable named differently in the template and the code fails here);
 * - the end-to-end scenario runs on the embedded stack with those assets and the template's event
 *   sources, schedules, queues and secrets (infra/rehearsal/end-to-end.ts), and its negative
 *   controls (a renamed variable, a handler string naming a missing export) fail it, named.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SynthesizedTarget, synthesizeTarget } from '#infra/checks/synth.js';
import type { CfnTemplate } from '#infra/checks/template.js';
import { MIGRATIONS_FOLDER } from '#infra/constructs/schema-migrations.js';
import { PROJECT_ROOT } from '#infra/pipeline-stack.js';
import { type ColdStart, coldStartAll } from '#infra/rehearsal/cold-start.js';
import { type RehearsalReport, rehearse, summaryLine } from '#infra/rehearsal/end-to-end.js';
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

/** The template's function playing `id`, for a negative control to change. */
function functionProps(template: CfnTemplate, id: FunctionId): Record<string, unknown> {
  const found = Object.values(template.Resources).find(
    (r) =>
      r.Type === 'AWS::Lambda::Function' && String(r.Properties?.FunctionName).endsWith(topology.functions[id].name),
  );
  if (!found?.Properties) throw new Error(`no ${id} function in the template`);
  return found.Properties;
}

describe('rehearsal end to end: the cdk.out assets run the pipeline on the embedded stack', () => {
  let report: RehearsalReport;

  beforeAll(async () => {
    report = await rehearse({ template: synth.template, outdir: synth.outdir, projectRoot: PROJECT_ROOT });
    console.log(summaryLine(report));
  }, 600_000);

  it('runs every topology function from its asset, with the template’s event sources and schedules', () => {
    expect(report.functionsFromAssets).toBe(Object.keys(topology.functions).length);
    expect(report.eventSources).toBe(topology.kinesisSources.length + topology.sqsSources.length);
    expect(report.schedules).toBe(topology.schedules.length);
  });

  it('migrates through the custom resource’s bundled handler: Create applies all, Update nothing, Delete keeps rows', () => {
    const sqlFiles = readdirSync(path.join(PROJECT_ROOT, MIGRATIONS_FOLDER)).filter((f) => f.endsWith('.sql'));
    expect(report.migrations.applied).toBe(sqlFiles.length);
    expect(report.migrations.users).toBeGreaterThan(0);
    expect(report.migrations.updateApplied).toBe(0);
    expect(report.deleteKeptRows).toBe(true);
    // The stack's own migrate() from source found nothing left: the bundle ships every migration.
    expect(report.findings).toEqual([]);
    // Calls to services without an emulator (CloudWatch) are refused and listed; Secrets Manager has one.
    expect(report.refusedCalls.filter((c) => c.startsWith('secretsmanager.'))).toEqual([]);
  });

  it('lands exactly the readings and errors the producer and the Kafka bridge report', () => {
    expect(report.produced).toBeGreaterThan(0);
    expect(report.landed).toEqual(report.expected);
    expect(report.expected.errors).toBeGreaterThan(0);
    expect(report.kafka.readings).toBe(report.kafka.sent);
  });

  it('publishes every reading-alert event the bundled aggregator records to the template’s topic, once', () => {
    expect(report.alerts.messages).toBe(report.alerts.events);
  });

  it('computes the windows and stores a data-quality run through the template’s schedules', () => {
    expect(report.windows).toBeGreaterThan(0);
    expect(report.dq.checks).toBeGreaterThan(0);
    expect(report.dq.errored).toBe(0);
    expect(summaryLine(report)).toMatch(
      /^rehearsal: \d+ functions from cdk.out, \d+ event sources, \d+ schedules; .* ok in \d+ s; not rehearsed: /,
    );
  });

  it('fails, naming the variable, when the template renames one the code requires', async () => {
    const template = structuredClone(synth.template);
    const variables = (functionProps(template, 'validator').Environment as { Variables: Record<string, unknown> })
      .Variables;
    variables.ERRORS_QUEUE = variables.ERRORS_QUEUE_URL;
    delete variables.ERRORS_QUEUE_URL;
    await expect(rehearse({ template, outdir: synth.outdir, projectRoot: PROJECT_ROOT })).rejects.toThrow(
      /functions failed to start from their assets: .*iot-validator.*ERRORS_QUEUE_URL/,
    );
  }, 300_000);

  it('fails, naming the export, when a handler string points to an export the asset lacks', async () => {
    const template = structuredClone(synth.template);
    functionProps(template, 'aggregator').Handler = 'index.handle';
    await expect(rehearse({ template, outdir: synth.outdir, projectRoot: PROJECT_ROOT })).rejects.toThrow(
      /iot-aggregator: Runtime.HandlerNotFound: .* does not export a function named "handle"/,
    );
  }, 300_000);
});
