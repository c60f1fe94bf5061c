/**
 * Synthesizes one target the way `cdk synth` does (infra/build.ts) into a fresh temporary folder
 * and returns its template. Bundling is off unless asked for: the template is the same apart from
 * asset hashes, and bundling takes several seconds per function.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../build.js';
import type { Target } from '../settings.js';
import type { CfnTemplate } from './template.js';

export interface SynthesizedTarget {
  readonly template: CfnTemplate;
  /** The cloud assembly folder (cdk.out equivalent); the caller removes it. */
  readonly outdir: string;
  readonly stackName: string;
}

export function synthesizeTarget(
  target: Target,
  options: { readonly bundle?: boolean; readonly outdir?: string; readonly context?: Record<string, string> } = {},
): SynthesizedTarget {
  const outdir = options.outdir ?? mkdtempSync(path.join(os.tmpdir(), `iot-first-${target}-`));
  const app = new App({
    outdir,
    context: {
      ...options.context,
      target,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const stack = buildApp(app);
  const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  return { template, outdir, stackName: stack.stackName };
}
