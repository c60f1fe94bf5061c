/**
 * Builds the stack into an app; shared by `infra/app.ts` and the tests, so the tests check
 * exactly what `cdk synth` produces (same settings parsing, same cdk-nag registration).
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeGuardFindings, addGuardPlugin } from './guard.js';
import { acknowledgeFindings } from './nag.js';
import { PipelineStack, type PipelineStackProps } from './pipeline-stack.js';
import { settingsFromContext } from './settings.js';

/** Default stack name; `-c stackName=...` deploys a second copy beside it. */
export const DEFAULT_STACK_NAME = 'IotFirst';

export interface BuildOptions extends Partial<Omit<PipelineStackProps, 'settings'>> {
  /** Register cdk-nag as a validation plugin (the CLI path); tests may run the pack directly. */
  readonly nag?: boolean;
  /**
   * Register cfn-guard's Control Tower rules as a validation plugin (the CLI path). Tests that
   * synthesize for other reasons turn it off (it runs the cfn-guard binary, seconds per template);
   * test/infra/guard.test.ts runs it on both targets.
   */
  readonly guard?: boolean;
}

export function buildApp(app: App, options: BuildOptions = {}): PipelineStack {
  const settings = settingsFromContext(app.node);
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? DEFAULT_STACK_NAME;
  const stack = new PipelineStack(app, stackName, {
    ...options,
    settings,
    description: `IoT First sensor pipeline (target: ${settings.target})`,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  acknowledgeFindings(stack);
  acknowledgeGuardFindings(stack);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  if (options.guard ?? true) addGuardPlugin(app);
  return stack;
}
