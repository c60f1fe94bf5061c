/**
 * Synthesizes the CDK app the way `cdk synth` does (infra/build.ts: same context parsing, same
 * cdk-nag registration) into a private temporary folder, so parallel runs never share cdk.out.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll } from 'vitest';
import { buildApp } from '#infra/build.js';
import type { PipelineStack } from '#infra/pipeline-stack.js';
import type { Topology } from '#topology.js';

export interface Synthesized {
  readonly app: App;
  readonly stack: PipelineStack;
  readonly assembly: CloudAssembly;
  readonly template: Template;
  /** The raw template, for walking resources by type. */
  readonly json: {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] }>;
    Parameters?: Record<string, Record<string, unknown>>;
  };
  readonly outdir: string;
}

export interface SynthOptions {
  readonly context?: Record<string, string>;
  /** Bundle the functions (slow, ~10 s); off gives placeholder assets for fast variants. */
  readonly bundle?: boolean;
  readonly bundleMetafile?: boolean;
  /** A topology variant instead of the project's. */
  readonly topology?: Topology;
  /** Run cfn-guard's Control Tower rules during synth (slow; test/infra/guard.test.ts does). */
  readonly guard?: boolean;
}

/** Every assembly folder this test file made (a few MB each), removed when the file ends. */
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function synthesize(options: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'iot-first-cdk-'));
  outdirs.push(outdir);
  const app = new App({
    outdir,
    context: {
      ...options.context,
      // An empty list tells every NodejsFunction to skip bundling (CDK's own switch for it).
      ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}),
    },
  });
  const stack = buildApp(app, {
    bundleMetafile: options.bundleMetafile ?? false,
    guard: options.guard ?? false,
    ...(options.topology ? { topology: options.topology } : {}),
  });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const json = artifact.template as Synthesized['json'];
  return { app, stack, assembly, template: Template.fromJSON(json), json, outdir };
}

export function logicalId(stack: PipelineStack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

export function resourcesOfType(s: Synthesized, type: string): [string, Record<string, unknown>][] {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

/** Runs the AwsSolutions pack directly and returns every unacknowledged finding, warnings included. */
export function nagFindings(app: App): string[] {
  const report = new AwsSolutionsChecks(app).validateScope(app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`),
  );
}

export interface FoundAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgement recorded with Validations.of(...).acknowledge in the tree. */
export function acknowledgements(root: IConstruct): FoundAcknowledgement[] {
  return root.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) =>
          Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason })),
        ),
    );
}

/** Asset folders of the assembly's bundled functions, with the size of their entry file. */
export function functionBundles(s: Synthesized): { logicalId: string; dir: string; bytes: number }[] {
  const fns = resourcesOfType(s, 'AWS::Lambda::Function');
  const out: { logicalId: string; dir: string; bytes: number }[] = [];
  for (const [id, p] of fns) {
    // A bundled function's code is the asset `asset.<hash>`, uploaded as `<hash>.zip`.
    const key = (p.Code as { S3Key?: unknown } | undefined)?.S3Key;
    if (typeof key !== 'string' || !key.endsWith('.zip')) continue;
    const dir = path.join(s.outdir, `asset.${key.slice(0, -'.zip'.length)}`);
    if (!existsSync(path.join(dir, 'index.mjs'))) continue;
    out.push({ logicalId: id, dir, bytes: statSync(path.join(dir, 'index.mjs')).size });
  }
  return out;
}
