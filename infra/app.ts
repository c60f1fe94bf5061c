/**
 * CDK entry point: `npx cdk synth` / `cdk deploy` (AWS) and `cdklocal deploy -c target=localstack`.
 *
 * cdk-nag's AwsSolutions pack runs on every synth as a policy-validation plugin, so a deploy is
 * blocked by any finding that is neither fixed nor acknowledged with a reason (infra/nag.ts).
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from './build.js';

buildApp(new App());
