/**
 * The query API's front door and the alert topic (issue 10), synthesized without bundling (fast):
 * stage throttling from the settings, JSON access logs without headers, API Gateway's account log
 * role, the topic's customer key that CloudWatch may use, TLS-only publishing, the e-mail
 * subscription only when asked for, every alarm notifying the topic, and the new alarms.
 */
import { describe, expect, it } from 'vitest';
import { CLOUDWATCH_KEY_ACTIONS } from '#infra/constructs/alert-topic.js';
import { API_GATEWAY_LOG_ACTIONS } from '#infra/constructs/query-api.js';
import { databaseUsername, FUNCTION_WIRING } from '#infra/wiring.js';
import { type FunctionId, topology } from '#topology.js';
import { logicalId, nagFindings, resourcesOfType, type Synthesized, synthesize } from './synth.js';

type Props = Record<string, unknown>;
type Statement = { Sid?: string; Effect: string; Principal?: unknown; Action: string | string[]; Condition?: Props };

const aws = synthesize({ bundle: false, context: { target: 'aws' } });

const one = (s: Synthesized, type: string): [string, Props] => {
  const found = resourcesOfType(s, type);
  expect(found, type).toHaveLength(1);
  return found[0] as [string, Props];
};
const actions = (st: Statement) => ([] as string[]).concat(st.Action).sort();

describe('query API (API Gateway REST API)', () => {
  it('throttles the stage with the defaults, and with the settings when given', () => {
    const [, stage] = one(aws, 'AWS::ApiGateway::Stage');
    const all = (stage.MethodSettings as Props[]).find((m) => m.HttpMethod === '*' && m.ResourcePath === '/*');
    expect(all).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });

    const tuned = synthesize({
      bundle: false,
      context: { target: 'localstack', apiThrottleRateLimit: '7', apiThrottleBurstLimit: '13' },
    });
    const [, tunedStage] = one(tuned, 'AWS::ApiGateway::Stage');
    expect((tunedStage.MethodSettings as Props[])[0]).toMatchObject({
      ThrottlingRateLimit: 7,
      ThrottlingBurstLimit: 13,
    });
    expect(() => synthesize({ bundle: false, context: { target: 'aws', apiThrottleRateLimit: '0' } })).toThrow(
      /apiThrottleRateLimit must be an integer >= 1/,
    );
  }, 120_000);

  it('writes one JSON object per request to its own log group, without headers or bodies', () => {
    const [, stage] = one(aws, 'AWS::ApiGateway::Stage');
    const setting = stage.AccessLogSetting as { DestinationArn: unknown; Format: string };
    const logGroupId = resourcesOfType(aws, 'AWS::Logs::LogGroup').find(([id]) =>
      id.startsWith('QueryApiAccessLogs'),
    )?.[0];
    expect(setting.DestinationArn).toEqual({ 'Fn::GetAtt': [logGroupId, 'Arn'] });
    const fields = JSON.parse(setting.Format) as Record<string, string>;
    expect(fields).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      path: '$context.path',
      integrationLatencyMs: '$context.integrationLatency',
    });
    // The bearer token travels in a header: no header variable may reach the log.
    expect(setting.Format).not.toMatch(/Authorization|\$input|\$context\.requestOverride/i);
    // Execution logs only for errors, never request or response bodies.
    expect((stage.MethodSettings as Props[])[0]).toMatchObject({ LoggingLevel: 'ERROR', DataTraceEnabled: false });
  });

  it("sets API Gateway's account log role with an inline policy on log groups only, or leaves it alone", () => {
    const [, account] = one(aws, 'AWS::ApiGateway::Account');
    const roleId = (account.CloudWatchRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = aws.json.Resources[roleId] as { Properties: Props; DeletionPolicy?: string };
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.DeletionPolicy).toBe('Retain');
    const [policy] = role.Properties.Policies as {
      PolicyDocument: { Statement: (Statement & { Resource: unknown })[] };
    }[];
    const [statement] = policy?.PolicyDocument.Statement ?? [];
    expect(actions(statement as Statement)).toEqual([...API_GATEWAY_LOG_ACTIONS].sort());
    expect(JSON.stringify(statement?.Resource)).toContain(':log-group:*');
    // The stage (access logs) is created only once the account names a log role.
    const [stageId] = one(aws, 'AWS::ApiGateway::Stage');
    expect(aws.json.Resources[stageId]?.DependsOn ?? []).toContain(
      resourcesOfType(aws, 'AWS::ApiGateway::Account')[0]?.[0],
    );

    const without = synthesize({ bundle: false, context: { target: 'aws', apiAccountLogRole: 'false' } });
    expect(resourcesOfType(without, 'AWS::ApiGateway::Account')).toHaveLength(0);
    expect(nagFindings(without.app)).toEqual([]);
  }, 120_000);

  it('stays clean when the account and region are known (as `cdk synth` knows them)', () => {
    const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
    process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
    process.env.CDK_DEFAULT_REGION = 'eu-west-1';
    try {
      const resolved = synthesize({ bundle: false, context: { target: 'aws' } });
      expect(resolved.stack.region).toBe('eu-west-1');
      expect(nagFindings(resolved.app)).toEqual([]);
    } finally {
      for (const [key, value] of [
        ['CDK_DEFAULT_ACCOUNT', saved.account],
        ['CDK_DEFAULT_REGION', saved.region],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  }, 120_000);

  it('gives the api function the contract environment and exactly the read permissions its health report needs', () => {
    const fn = aws.stack.functions.api;
    const props = aws.json.Resources[logicalId(aws.stack, fn.function)]?.Properties as Props;
    const env = (props.Environment as { Variables: Props }).Variables;
    const ref = (c: Parameters<typeof logicalId>[1]) => ({ Ref: logicalId(aws.stack, c) });
    expect(env).toMatchObject({
      STREAM_NAME: ref(aws.stack.stream),
      ERRORS_QUEUE_URL: ref(aws.stack.queues.errors),
      FAILURES_QUEUE_URL: ref(aws.stack.queues.failures),
      ERRORS_DLQ_URL: ref(aws.stack.deadLetterQueues.errors),
      FAILURES_DLQ_URL: ref(aws.stack.deadLetterQueues.failures),
      VALIDATOR_FUNCTION_NAME: `${aws.stack.stackName}-${topology.functions.validator.name}`,
    });
    expect(env.DB_SECRET_ARN).toBeDefined();
    expect(props.Timeout).toBe(29);

    const statements = resourcesOfType(aws, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Roles).includes(logicalId(aws.stack, fn.role)))
      .flatMap(([, p]) => (p.PolicyDocument as { Statement: (Statement & { Resource: unknown })[] }).Statement);
    const text = JSON.stringify(statements);
    for (const forbidden of [
      'sqs:SendMessage',
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'kinesis:PutRecord',
      'kinesis:GetRecords',
    ])
      expect(text, forbidden).not.toContain(forbidden);
    const queueRead = statements.filter((st) => actions(st).includes('sqs:GetQueueAttributes'));
    expect(queueRead.flatMap((st) => ([] as unknown[]).concat(st.Resource))).toHaveLength(4);
    const streamRead = statements.find((st) => actions(st).includes('kinesis:DescribeStreamSummary')) as Statement;
    expect(actions(streamRead)).toEqual(['kinesis:DescribeStreamSummary', 'kinesis:ListShards']);
    const metrics = statements.find((st) => st.Sid === 'ReadPipelineMetrics');
    expect(metrics).toMatchObject({ Action: 'cloudwatch:GetMetricData', Resource: '*' });
  });

  it("gives LocalStack's own execute-api URL as ApiUrl on that target", () => {
    const local = synthesize({ bundle: false, context: { target: 'localstack' } });
    const outputs = (
      local.assembly.getStackByName(local.stack.stackName).template as { Outputs: Record<string, Props> }
    ).Outputs;
    const [apiId] = one(local, 'AWS::ApiGateway::RestApi');
    expect(outputs.ApiUrl?.Value).toEqual({
      'Fn::Join': ['', ['http://', { Ref: apiId }, '.execute-api.localhost.localstack.cloud:4566/v1/']],
    });
  }, 120_000);

  it('has an ApiUrl output on the stage', () => {
    const outputs = (aws.assembly.getStackByName(aws.stack.stackName).template as { Outputs: Record<string, Props> })
      .Outputs;
    const [stageId] = one(aws, 'AWS::ApiGateway::Stage');
    expect(JSON.stringify(outputs.ApiUrl?.Value)).toContain(stageId);
    expect(JSON.stringify(outputs.ApiUrl?.Value)).toContain('execute-api');
  });
});

describe('alert topic', () => {
  it('is encrypted with a rotating customer key whose policy lets CloudWatch use it and limits grants', () => {
    const [keyId, key] = one(aws, 'AWS::KMS::Key');
    expect(key.EnableKeyRotation).toBe(true);
    const statements = (key.KeyPolicy as { Statement: Statement[] }).Statement;
    const cloudwatch = statements.find(
      (st) => JSON.stringify(st.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
    );
    expect(cloudwatch?.Effect).toBe('Allow');
    expect(actions(cloudwatch as Statement)).toEqual([...CLOUDWATCH_KEY_ACTIONS].sort());
    const grants = statements.find((st) => st.Effect === 'Deny');
    expect(grants?.Action).toBe('kms:CreateGrant');
    expect(grants?.Condition).toEqual({
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
    });
    const [, topic] = one(aws, 'AWS::SNS::Topic');
    expect(topic.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
  });

  it('refuses publishing without TLS and lets only this account’s alarms publish as CloudWatch', () => {
    const [topicId] = one(aws, 'AWS::SNS::Topic');
    const [, policy] = one(aws, 'AWS::SNS::TopicPolicy');
    expect(policy.Topics).toEqual([{ Ref: topicId }]);
    const statements = (policy.PolicyDocument as { Statement: Statement[] }).Statement;
    const tls = statements.find((st) => st.Effect === 'Deny');
    expect(tls).toMatchObject({ Principal: '*', Action: 'sns:Publish' });
    expect(tls?.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    const alarms = statements.find((st) => st.Sid === 'AllowThisAccountsAlarmsToPublish');
    expect(alarms).toMatchObject({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } });
    expect(JSON.stringify(alarms?.Condition)).toContain(':alarm:*');
    expect(alarms?.Condition).toHaveProperty('StringEquals', { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
  });

  it('subscribes the alertEmail address only when it is given, and refuses a malformed one', () => {
    expect(resourcesOfType(aws, 'AWS::SNS::Subscription')).toHaveLength(0);
    const mailed = synthesize({ bundle: false, context: { target: 'localstack', alertEmail: 'ops@example.com' } });
    const [, sub] = one(mailed, 'AWS::SNS::Subscription');
    expect(sub).toMatchObject({ Protocol: 'email', Endpoint: 'ops@example.com' });
    expect(sub.TopicArn).toEqual({ Ref: one(mailed, 'AWS::SNS::Topic')[0] });
    expect(() => synthesize({ bundle: false, context: { target: 'aws', alertEmail: 'ops at example' } })).toThrow(
      /alertEmail must be an e-mail address/,
    );
  }, 120_000);
});

describe('reading alerts to the alert topic (the aggregator publishes after its commit)', () => {
  const rolePolicy = (s: Synthesized, fid: FunctionId) =>
    resourcesOfType(s, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Roles).includes(logicalId(s.stack, s.stack.functions[fid].role)))
      .flatMap(([, p]) => (p.PolicyDocument as { Statement: (Statement & { Resource: unknown })[] }).Statement);
  const variables = (s: Synthesized, fid: FunctionId) =>
    (
      (s.json.Resources[logicalId(s.stack, s.stack.functions[fid].function)]?.Properties as Props).Environment as {
        Variables: Props;
      }
    ).Variables;

  it.each([
    ['aws', aws],
    ['localstack', synthesize({ bundle: false, context: { target: 'localstack' } })],
  ] as const)(
    '%s: only the aggregator gets ALERT_TOPIC_ARN, sns:Publish on the topic and the key’s data keys',
    (_target, s) => {
      const [topicId] = one(s, 'AWS::SNS::Topic');
      const [keyId] = one(s, 'AWS::KMS::Key');
      const publishers = (Object.keys(topology.functions) as FunctionId[]).filter(
        (fid) => FUNCTION_WIRING[fid].publishesAlerts,
      );
      expect(publishers).toEqual(['aggregator']);
      for (const fid of Object.keys(topology.functions) as FunctionId[]) {
        const statements = rolePolicy(s, fid);
        const publish = statements.filter((st) => actions(st).includes('sns:Publish'));
        if (fid !== 'aggregator') {
          expect(variables(s, fid).ALERT_TOPIC_ARN, fid).toBeUndefined();
          expect(publish, fid).toEqual([]);
          continue;
        }
        expect(variables(s, fid).ALERT_TOPIC_ARN).toEqual({ Ref: topicId });
        expect(publish).toHaveLength(1);
        expect(publish[0]?.Resource).toEqual({ Ref: topicId });
        const key = statements.find((st) => actions(st).includes('kms:GenerateDataKey*'));
        expect(actions(key as Statement)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
        expect(key && (key as { Resource: unknown }).Resource).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      }
    },
    120_000,
  );

  it('gives the VPC an sns interface endpoint that admits HTTPS from the aggregator', () => {
    const endpoints = resourcesOfType(aws, 'AWS::EC2::VPCEndpoint').filter(([, p]) =>
      JSON.stringify(p.ServiceName).includes('.sns'),
    );
    expect(endpoints).toHaveLength(1);
    const [, endpoint] = endpoints[0] as [string, Props];
    expect(endpoint).toMatchObject({ VpcEndpointType: 'Interface', PrivateDnsEnabled: true });
    const groupId = JSON.stringify(endpoint.SecurityGroupIds).match(/"(\w+)","GroupId"/)?.[1];
    const aggregatorGroups = JSON.stringify(
      (aws.json.Resources[logicalId(aws.stack, aws.stack.functions.aggregator.function)]?.Properties as Props)
        .VpcConfig,
    );
    const ingress = resourcesOfType(aws, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, p]) => JSON.stringify(p.GroupId).includes(`"${groupId}"`) && p.FromPort === 443,
    );
    expect(ingress.some(([, p]) => aggregatorGroups.includes(JSON.stringify(p.SourceSecurityGroupId)))).toBe(true);
  });

  it('alarms when reading alerts could not be published', () => {
    const alarm = resourcesOfType(aws, 'AWS::CloudWatch::Alarm')
      .map(([, p]) => p)
      .find((a) => a.MetricName === 'AlertPublishFailures');
    expect(alarm).toMatchObject({
      Namespace: 'IoTFirst',
      Dimensions: [{ Name: 'service', Value: 'aggregator' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('alarms', () => {
  const alarms = () => resourcesOfType(aws, 'AWS::CloudWatch::Alarm').map(([, p]) => p);

  it('every alarm notifies the alert topic on alarm and on recovery; an operator topic is added, not substituted', () => {
    const topic = { Ref: one(aws, 'AWS::SNS::Topic')[0] };
    expect(alarms().length).toBeGreaterThan(0);
    for (const a of alarms()) {
      expect(a.AlarmActions, String(a.AlarmDescription)).toEqual([topic]);
      expect(a.OKActions, String(a.AlarmDescription)).toEqual([topic]);
    }
    const ops = 'arn:aws:sns:eu-west-1:123456789012:ops';
    const both = synthesize({ bundle: false, context: { target: 'localstack', alarmTopicArn: ops } });
    const ownTopic = { Ref: one(both, 'AWS::SNS::Topic')[0] };
    for (const [, a] of resourcesOfType(both, 'AWS::CloudWatch::Alarm'))
      expect(a.AlarmActions).toEqual([ownTopic, ops]);
  }, 120_000);

  it('alarms when the aggregator stops: no successful run in 5 minutes, missing data breaching', () => {
    const stopped = alarms().find((a) => a.MetricName === 'WindowsRecomputed');
    expect(stopped).toMatchObject({
      Namespace: 'IoTFirst',
      Dimensions: [{ Name: 'service', Value: 'aggregator' }],
      Statistic: 'SampleCount',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    // Every other alarm treats missing data as fine (no traffic, an empty queue).
    for (const a of alarms().filter((x) => x !== stopped)) expect(a.TreatMissingData).toBe('notBreaching');
  });

  it("alarms on the validator's rejection rate (metric math over its own counts) at the configured share", () => {
    const rate = alarms().find((a) => Array.isArray(a.Metrics));
    const metrics = rate?.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: Props; Stat: string };
    }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('IF(whole > 0, part / whole, 0)');
    const named = Object.fromEntries(metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat]));
    expect(named.part?.Metric).toMatchObject({ MetricName: 'RecordsRejected', Namespace: 'IoTFirst' });
    expect(named.whole?.Metric).toMatchObject({ MetricName: 'RecordsReceived', Namespace: 'IoTFirst' });
    expect(named.part?.Stat).toBe('Sum');
    expect(rate?.Threshold).toBe(0.5);
    const stricter = synthesize({ bundle: false, context: { target: 'localstack', rejectionRateAlarm: '0.2' } });
    const tuned = resourcesOfType(stricter, 'AWS::CloudWatch::Alarm').find(([, p]) => Array.isArray(p.Metrics));
    expect(tuned?.[1].Threshold).toBe(0.2);
    expect(() => synthesize({ bundle: false, context: { target: 'aws', rejectionRateAlarm: '1.5' } })).toThrow(
      /rejectionRateAlarm must be a number in \(0, 1\]/,
    );
  }, 120_000);

  it("alarms on the query API's 5xx answers (not on 4xx: those are the callers' and the throttle's)", () => {
    const [, api] = one(aws, 'AWS::ApiGateway::RestApi');
    const byApi = alarms().filter((a) => a.Namespace === 'AWS/ApiGateway');
    expect(byApi).toHaveLength(1);
    expect(byApi[0]).toMatchObject({
      MetricName: '5XXError',
      Statistic: 'Sum',
      Threshold: 1,
      Dimensions: [{ Name: 'ApiName', Value: api.Name }],
    });
    const [, dashboard] = one(aws, 'AWS::CloudWatch::Dashboard');
    expect(JSON.stringify(dashboard.DashboardBody)).toContain('Query API iot-api: latency p50 / p99');
  });

  it('keeps the data-quality failure alarms on the dq function’s own metrics', () => {
    const dq = alarms().filter((a) => JSON.stringify(a.Dimensions) === '[{"Name":"service","Value":"dq"}]');
    expect(dq.map((a) => a.MetricName).sort()).toEqual(['DqChecksErrored', 'DqChecksFailed']);
  });
});

describe('database users', () => {
  it('names every login user apart from its group role (a role cannot be granted to itself)', () => {
    const fns = (Object.keys(topology.functions) as FunctionId[]).filter((f) => FUNCTION_WIRING[f].databaseRole);
    expect(fns).toContain('api');
    for (const f of fns)
      expect(databaseUsername(f, FUNCTION_WIRING[f].databaseRole), f).not.toBe(FUNCTION_WIRING[f].databaseRole);
    expect(databaseUsername('api', 'iot_api')).toBe('iot_api_login');
    expect(databaseUsername('dlqDrainer', 'iot_ingest')).toBe('iot_dlq_drainer');
    const [, schema] = one(aws, 'Custom::IotFirstSchema');
    expect((schema.Users as { GroupRole: string }[]).map((u) => u.GroupRole)).toContain('iot_api');
  });
});
