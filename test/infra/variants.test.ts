/**
 * Deployment options that change the template, synthesized without bundling (fast): cdk-nag stays
 * clean in each, acknowledgements come and go with the settings that need them, and the CLI path
 * really blocks on a finding.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp } from '#infra/build.js';
import { FUNCTION_WIRING } from '#infra/wiring.js';
import { type FunctionId, type Topology, topology } from '#topology.js';
import { acknowledgements, logicalId, nagFindings, resourcesOfType, synthesize } from './synth.js';
import { assertTopologyParity } from './topology-parity.js';

const ackIds = (app: App) => acknowledgements(app).map((a) => a.id.replace(/^Annotation::/, ''));

describe('deployment variants', () => {
  it('with multi-AZ and deletion protection on, needs no RDS3/RDS10 acknowledgement and stays clean', () => {
    const s = synthesize({ bundle: false, context: { target: 'aws', dbMultiAz: 'true', removalPolicy: 'retain' } });
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: true, DeletionProtection: true });
    expect(ackIds(s.app)).not.toContain('AwsSolutions-RDS3');
    expect(ackIds(s.app)).not.toContain('AwsSolutions-RDS10');
    expect(nagFindings(s.app)).toEqual([]);
    // Retained data: the database snapshots on delete; log groups and queues are kept.
    expect(Object.values(s.json.Resources).find((r) => r.Type === 'AWS::RDS::DBInstance')).toMatchObject({
      DeletionPolicy: 'Snapshot',
    });
  }, 120_000);

  it('with an RDS Proxy, points pipeline functions at it (TLS required) while migrations go direct', () => {
    const s = synthesize({ bundle: false, context: { target: 'aws', rdsProxy: 'true' } });
    s.template.hasResourceProperties('AWS::RDS::DBProxy', { RequireTLS: true, EngineFamily: 'POSTGRESQL' });
    const proxyId = resourcesOfType(s, 'AWS::RDS::DBProxy')[0]?.[0] ?? '';
    const envOf = (id: string) =>
      (
        resourcesOfType(s, 'AWS::Lambda::Function').find(([fid]) => fid === id)?.[1].Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
    for (const fid of (Object.keys(topology.functions) as FunctionId[]).filter(
      (f) => FUNCTION_WIRING[f].databaseRole !== undefined,
    )) {
      expect(envOf(logicalId(s.stack, s.stack.functions[fid].function)).DB_HOST_OVERRIDE, fid).toEqual({
        'Fn::GetAtt': [proxyId, 'Endpoint'],
      });
    }
    expect(envOf(logicalId(s.stack, s.stack.migrations.handler.function)).DB_HOST_OVERRIDE).toBeUndefined();
    expect(nagFindings(s.app)).toEqual([]);
  }, 120_000);

  it('acknowledges RDS13 only when backups are explicitly turned off', () => {
    const s = synthesize({ bundle: false, context: { target: 'aws', dbBackupRetentionDays: '0' } });
    expect(ackIds(s.app)).toContain('AwsSolutions-RDS13');
    expect(nagFindings(s.app)).toEqual([]);
    const d = synthesize({ bundle: false, context: { target: 'aws' } });
    expect(ackIds(d.app)).not.toContain('AwsSolutions-RDS13');
  }, 120_000);

  it('checks parity against the topology it is given: new entries are checked, changed values are caught', () => {
    const variant: Topology = {
      ...topology,
      sqsSources: topology.sqsSources.map((src) => ({ ...src, batchSize: src.batchSize + 1 })),
      schedules: [...topology.schedules, { function: 'producer', everyMinutes: 10, description: 'variant schedule' }],
    };
    const s = synthesize({ bundle: false, context: { target: 'localstack' }, topology: variant });
    expect(() => assertTopologyParity(s, variant)).not.toThrow();
    expect(() => assertTopologyParity(s)).toThrow();
    // A mapping the topology does not declare is reported, not ignored.
    const lean: Topology = { ...variant, sqsSources: variant.sqsSources.slice(1) };
    expect(() => assertTopologyParity(s, lean)).toThrow(/deeply equal \[\]/);
  }, 120_000);

  it('lets a later part add an alarm that notifies the alert topic (and the operator topic) and shows on the dashboard', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], target: 'localstack', alarmTopicArn: topicArn } });
    const stack = buildApp(app, { nag: false, guard: false });
    stack.monitoring.addAlarm('DoorAlarm', {
      description: 'a door of its own',
      metric: new cloudwatch.Metric({ namespace: 'IoTFirst', metricName: 'DoorFailures' }),
      threshold: 1,
    });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const resources = Object.entries(template.Resources);
    const [alarmId, alarm] = resources.find(([, r]) => r.Properties.MetricName === 'DoorFailures') ?? [];
    const own = { Ref: stack.getLogicalId(stack.alerts.topic.node.defaultChild as CfnElement) };
    expect(alarm?.Properties).toMatchObject({ AlarmActions: [own, topicArn], OKActions: [own, topicArn] });
    const dashboard = resources.find(([, r]) => r.Type === 'AWS::CloudWatch::Dashboard')?.[1];
    expect(JSON.stringify(dashboard?.Properties.DashboardBody)).toContain(alarmId);
  }, 120_000);

  it('refuses an unknown target instead of silently deploying the AWS variant', () => {
    expect(() => synthesize({ bundle: false, context: { target: 'localstak' } })).toThrow(
      /target must be one of aws, localstack/,
    );
  });

  it('blocks synth (and so deploy) on an unacknowledged finding: the nag plugin is really registered', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    // cfn-guard off: its own findings on this queue would also fail the synth (guard.test.ts).
    const stack = buildApp(app, { guard: false });
    new sqs.Queue(stack, 'UnencryptedQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(() => app.synth()).toThrow(/Validation failed|AwsSolutions-SQS/);
  }, 120_000);

  it('finds that same queue when the pack runs directly (the findings list the tests rely on is not vacuous)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = buildApp(app, { nag: false });
    new sqs.Queue(stack, 'UnencryptedQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const findings = new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
    expect(findings).toEqual(expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  }, 120_000);
});
