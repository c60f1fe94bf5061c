/**
 * cfn-guard with the Control Tower proactive controls, the second policy pack beside cdk-nag:
 * both targets synthesize with it registered (an unacknowledged finding throws in synth), every
 * acknowledgement has a reason, the acknowledgements that depend on a setting go away with it,
 * and a planted finding blocks the synth.
 */
import { App } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '#infra/build.js';
import { acknowledgements, synthesize } from './synth.js';

const GUARD = 'cdk-validator-cfnguard::';

function guardAcks(app: App) {
  return acknowledgements(app).filter((a) => a.id.startsWith(GUARD));
}

describe('cfn-guard (Control Tower rules)', () => {
  for (const target of ['aws', 'localstack'] as const) {
    it(`${target}: synthesizes with no unacknowledged finding, each acknowledgement with a reason`, () => {
      const s = synthesize({ context: { target }, bundle: false, guard: true });
      const acks = guardAcks(s.app);
      expect(acks.length).toBeGreaterThan(0);
      for (const a of acks) expect(a.reason.length, `${a.id} at ${a.path}`).toBeGreaterThan(80);
      // Every alarm has the stack's own alert topic as its action: CT.CLOUDWATCH.PR.1 holds unacknowledged.
      expect(acks.filter((a) => a.id.endsWith('::cloudwatch_alarm_action_check'))).toEqual([]);
    }, 300_000);
  }

  it('drops the acknowledgements a setting makes unnecessary, and still passes', () => {
    const context = {
      target: 'aws',
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops',
      alertEmail: 'ops@example.com',
      logRetentionDays: '365',
      dbMultiAz: 'true',
      removalPolicy: 'retain',
    };
    const s = synthesize({ context, bundle: false, guard: true });
    const rules = new Set(guardAcks(s.app).map((a) => a.id.slice(GUARD.length)));
    for (const gone of [
      'cloudwatch_alarm_action_check',
      'cloudwatch_log_group_retention_period_check',
      'rds_instance_multi_az_support_check',
      'rds_instance_deletion_protection_enabled_check',
    ]) {
      expect(rules.has(gone), gone).toBe(false);
    }
  }, 300_000);

  it('blocks the synth on an unacknowledged finding (a queue without a dead-letter queue)', () => {
    const app = new App({ context: { target: 'localstack', 'aws:cdk:bundling-stacks': [] } });
    const stack = buildApp(app, { nag: false });
    new sqs.Queue(stack, 'StrayQueue', { enforceSSL: true });
    expect(() => app.synth()).toThrow(/sqs_dlq_check[\s\S]*StrayQueue|StrayQueue[\s\S]*sqs_dlq_check/);
  }, 300_000);
});
