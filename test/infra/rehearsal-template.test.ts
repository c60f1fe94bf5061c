/**
 * The rehearsal's reading of a synthesized `localstack` template (infra/rehearsal/
 * template-to-host.ts and environment.ts): the host's functions, queues, event sources and
 * schedules come from the template's values, so a value changed in the template (and only there)
 * changes what the host runs; what the host cannot run is refused with the resource named.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SynthesizedTarget, synthesizeTarget } from '#infra/checks/synth.js';
import type { CfnTemplate } from '#infra/checks/template.js';
import { GROUP_ROLES } from '#infra/database-roles.js';
import { LOCALSTACK } from '#infra/localstack.js';
import { EnvironmentError, rehearsalEnvironment, type StackSide } from '#infra/rehearsal/environment.js';
import { TemplatePlanError, templateToHost } from '#infra/rehearsal/template-to-host.js';
import { type FunctionId, topology } from '#topology.js';

let synth: SynthesizedTarget;

beforeAll(() => {
  synth = synthesizeTarget('localstack');
}, 180_000);

afterAll(() => rmSync(synth.outdir, { recursive: true, force: true }));

const copy = (): CfnTemplate => structuredClone(synth.template);

function resourceOf(t: CfnTemplate, type: string, match: (p: Record<string, unknown>) => boolean) {
  const found = Object.entries(t.Resources).find(([, r]) => r.Type === type && match(r.Properties ?? {}));
  if (!found) throw new Error(`no ${type} matches`);
  return { id: found[0], p: found[1].Properties as Record<string, unknown> };
}

const fnNamed = (t: CfnTemplate, id: FunctionId) =>
  resourceOf(t, 'AWS::Lambda::Function', (p) => String(p.FunctionName).endsWith(topology.functions[id].name));

describe('template to host', () => {
  it('finds every topology function, the event sources and schedules of the template', () => {
    const plan = templateToHost(synth.template, synth.outdir);
    for (const id of Object.keys(topology.functions) as FunctionId[]) {
      expect(plan.topology.functions[id].name, id).toMatch(new RegExp(`-${topology.functions[id].name}$`));
    }
    expect(plan.counts).toEqual({ kinesisSources: 1, sqsSources: 2, schedules: 2 });
    expect(plan.topology.kinesisSources[0]).toMatchObject({ function: 'validator', onFailure: 'failures' });
    expect(plan.topology.sqsSources.map((s) => `${s.function}:${s.queue}`).sort()).toEqual([
      'dlqDrainer:errors',
      'dlqDrainer:failures',
    ]);
    // The migrations custom resource reaches the user handler behind CDK's provider framework.
    const [custom] = plan.customResources;
    const handler = plan.functions.find((f) => f.logicalId === custom?.handlerLogicalId);
    expect(handler?.functionName).toMatch(/migrations$/);
    expect(handler?.id).toBeUndefined();
  });

  it('takes memory, timeout, batch settings, redrive and schedule rates from the template, not the topology', () => {
    const t = copy();
    const validator = fnNamed(t, 'validator');
    validator.p.MemorySize = 1024;
    validator.p.Timeout = 45;
    const mapping = resourceOf(t, 'AWS::Lambda::EventSourceMapping', (p) => p.StartingPosition !== undefined);
    mapping.p.BatchSize = 123;
    mapping.p.ParallelizationFactor = 3;
    mapping.p.MaximumRetryAttempts = 2;
    const errors = resourceOf(t, 'AWS::SQS::Queue', (p) => p.QueueName === topology.queues.errors.name);
    (errors.p.RedrivePolicy as Record<string, unknown>).maxReceiveCount = 7;
    errors.p.VisibilityTimeout = 400;
    const rule = resourceOf(t, 'AWS::Events::Rule', (p) => p.ScheduleExpression === 'rate(5 minutes)');
    rule.p.ScheduleExpression = 'rate(2 hours)';

    const plan = templateToHost(t, synth.outdir);
    expect(plan.topology.functions.validator).toMatchObject({ memoryMb: 1024, timeoutSeconds: 45 });
    expect(plan.topology.kinesisSources[0]).toMatchObject({
      batchSize: 123,
      parallelizationFactor: 3,
      retryAttempts: 2,
    });
    expect(plan.topology.queues.errors).toMatchObject({ maxReceiveCount: 7, visibilityTimeoutSeconds: 400 });
    expect(plan.topology.schedules.find((s) => s.function === 'dq')?.everyMinutes).toBe(120);
  });

  it('names no function login user like a group role (the migrations handler grants the group to the user)', () => {
    // The rehearsal found the dq user named iot_dq, like its group: Create failed with
    // `role "iot_dq" is a member of role "iot_dq"`, which would roll back every deploy.
    const users = Object.values(synth.template.Resources)
      .filter((r) => r.Type === 'AWS::SecretsManager::Secret')
      .flatMap((r) => {
        const generate = r.Properties?.GenerateSecretString as { SecretStringTemplate?: string } | undefined;
        return generate?.SecretStringTemplate ? [String(JSON.parse(generate.SecretStringTemplate).username)] : [];
      });
    expect(users.length).toBeGreaterThan(0);
    expect(users.filter((u) => (GROUP_ROLES as readonly string[]).includes(u))).toEqual([]);
  });

  it('refuses what the host cannot run, naming the resource', () => {
    const cron = copy();
    const rule = resourceOf(cron, 'AWS::Events::Rule', (p) => p.ScheduleExpression === 'rate(1 minute)');
    rule.p.ScheduleExpression = 'cron(0 12 * * ? *)';
    expect(() => templateToHost(cron, synth.outdir)).toThrow(new RegExp(`${rule.id}: schedule cron`));

    const noFailure = copy();
    const mapping = resourceOf(noFailure, 'AWS::Lambda::EventSourceMapping', (p) => p.StartingPosition !== undefined);
    delete mapping.p.DestinationConfig;
    expect(() => templateToHost(noFailure, synth.outdir)).toThrow(TemplatePlanError);

    const noDrainer = copy();
    delete noDrainer.Resources[fnNamed(noDrainer, 'dlqDrainer').id];
    expect(() => templateToHost(noDrainer, synth.outdir)).toThrow(/dlqDrainer|does not run/);
  });
});

describe('rehearsal environment', () => {
  const side: StackSide = {
    region: 'us-east-1',
    streamName: 'iot_sensor_data',
    queueUrls: {
      [topology.queues.errors.name]: 'http://127.0.0.1:1/000000000000/iot-sensor-errors',
      [topology.queues.failures.name]: 'http://127.0.0.1:1/000000000000/iot-ingest-failures',
    },
    secretArn: (id) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}-abcdef`,
    parameters: { DbAdminPassword: 'x' },
    endpoints: { kinesis: 'http://127.0.0.1:2', sqs: 'http://127.0.0.1:1', secretsManager: 'http://127.0.0.1:3' },
  };

  it('resolves references to the embedded stack and LocalStack’s endpoint to the service’s emulator', () => {
    const plan = templateToHost(synth.template, synth.outdir);
    const validator = plan.functions.find((f) => f.id === 'validator');
    if (!validator) throw new Error('no validator');
    const env = rehearsalEnvironment(synth.template, validator, side);
    expect(env.ERRORS_QUEUE_URL).toBe(side.queueUrls[topology.queues.errors.name]);
    expect(env.DB_SECRET_ARN).toMatch(/^arn:aws:secretsmanager:.*:secret:DatabaseValidatorUser/);
    expect(env.SECRETS_MANAGER_ENDPOINT).toBe(side.endpoints.secretsManager);
    expect(env.AWS_ENDPOINT_URL_KINESIS).toBe(side.endpoints.kinesis);
    expect(env._HANDLER).toBe(validator.handler);
    expect(env.LAMBDA_TASK_ROOT).toBe(validator.assetDir ?? '');
  });

  it('gives the aggregator the template’s topic ARN, with SNS on the queue emulator (fauxqs serves both)', () => {
    const plan = templateToHost(synth.template, synth.outdir);
    const aggregator = plan.functions.find((f) => f.id === 'aggregator');
    if (!aggregator) throw new Error('no aggregator');
    const env = rehearsalEnvironment(synth.template, aggregator, side);
    const topic = Object.values(synth.template.Resources).find((r) => r.Type === 'AWS::SNS::Topic');
    expect(env.ALERT_TOPIC_ARN).toBe(`arn:aws:sns:us-east-1:000000000000:${String(topic?.Properties?.TopicName)}`);
    expect(env.AWS_ENDPOINT_URL_SNS).toBe(side.endpoints.sqs);
  });

  it('refuses a LocalStack endpoint in a variable it cannot attribute to a service', () => {
    const plan = templateToHost(synth.template, synth.outdir);
    const validator = plan.functions.find((f) => f.id === 'validator');
    if (!validator) throw new Error('no validator');
    const odd = { ...validator, variables: { ...validator.variables, SOMETHING_URL: `${LOCALSTACK.endpoint}/x` } };
    expect(() => rehearsalEnvironment(synth.template, odd, side)).toThrow(EnvironmentError);
    expect(() => rehearsalEnvironment(synth.template, odd, side)).toThrow(/SOMETHING_URL/);
  });
});
