/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: IoT policy variables are the subject of the mqtt check */
/**
 * Proves a synthesized template carries the topology's values (docs/DESIGN.md section 6): every
 * event-source setting, every queue, function and stream setting, every schedule. Each value is
 * read from the same `topology` object the embedded Lambda host (runtime/) reads.
 *
 * Driven by the topology: each check walks its own section, so a new function, queue, source or
 * schedule in an existing section is checked with no change here. A new section (a Kafka source,
 * an IoT rule, an API) is one more entry in {@link PARITY_CHECKS}; until it has one, its event
 * source mappings are reported as unaccounted for, so a door cannot arrive unchecked.
 */
import { expect } from 'vitest';
import { renderTemplate } from '#domain/topic-rule.js';
import { FUNCTION_WIRING } from '#infra/wiring.js';
import { LocalRuleEngine } from '#runtime/mqtt/rule-engine.js';
import {
  deviceTopicFor,
  type FunctionId,
  mqttDoor,
  mqttRuleSql,
  type QueueId,
  rateExpression,
  type Topology,
  topology,
} from '#topology.js';
import { logicalId, resourcesOfType, type Synthesized } from './synth.js';

type Props = Record<string, unknown>;

/** What every check sees: the template, the expected topology, and logical-id lookups. */
interface ParityContext {
  readonly s: Synthesized;
  readonly topology: Topology;
  readonly fnId: (f: FunctionId) => string;
  readonly queueId: (q: QueueId) => string;
  readonly streamId: string;
  /** Properties of every AWS::Lambda::EventSourceMapping in the template. */
  readonly mappings: readonly Props[];
  readonly mappingsOf: (f: FunctionId) => Props[];
}

/** Asserts one section; returns the event source mappings it accounts for. */
type ParityCheck = (c: ParityContext) => readonly Props[];

function getAtt(id: string, attr: string) {
  return { 'Fn::GetAtt': [id, attr] };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function entries<K extends string, V>(record: Readonly<Record<K, V>>): [K, V][] {
  return Object.entries(record) as [K, V][];
}

function parityContext(s: Synthesized, expected: Topology): ParityContext {
  const { stack } = s;
  const fnId = (f: FunctionId) => logicalId(stack, stack.functions[f].function);
  const mappings = resourcesOfType(s, 'AWS::Lambda::EventSourceMapping').map(([, p]) => p);
  return {
    s,
    topology: expected,
    fnId,
    queueId: (q) => logicalId(stack, stack.queues[q]),
    streamId: logicalId(stack, stack.stream),
    mappings,
    mappingsOf: (fid) => mappings.filter((p) => same(p.FunctionName, { Ref: fnId(fid) })),
  };
}

const stream: ParityCheck = ({ s, topology: t }) => {
  s.template.hasResourceProperties('AWS::Kinesis::Stream', {
    Name: t.stream.name,
    ShardCount: t.stream.shardCount,
    RetentionPeriodHours: t.stream.retentionHours,
  });
  return [];
};

/** Kinesis event sources: every setting the embedded host applies. */
const kinesisSources: ParityCheck = (c) => {
  expect(c.topology.kinesisSources.length).toBeGreaterThan(0);
  const fromStream = c.mappings.filter((p) => same(p.EventSourceArn, getAtt(c.streamId, 'Arn')));
  expect(fromStream).toHaveLength(c.topology.kinesisSources.length);
  return c.topology.kinesisSources.map((src) => {
    const [m, ...rest] = c.mappingsOf(src.function).filter((p) => fromStream.includes(p));
    expect(rest).toHaveLength(0);
    expect(m, `Kinesis mapping of ${src.function}`).toBeDefined();
    const p = m as Props;
    expect(p.BatchSize).toBe(src.batchSize);
    expect(p.MaximumBatchingWindowInSeconds).toBe(src.maxBatchingWindowSeconds);
    expect(p.ParallelizationFactor).toBe(src.parallelizationFactor);
    expect(p.BisectBatchOnFunctionError).toBe(src.bisectBatchOnError);
    expect(p.MaximumRetryAttempts).toBe(src.retryAttempts);
    expect(p.MaximumRecordAgeInSeconds).toBe(src.maxRecordAgeSeconds);
    expect(p.StartingPosition).toBe(src.startingPosition);
    expect(p.FunctionResponseTypes ?? []).toEqual(src.reportBatchItemFailures ? ['ReportBatchItemFailures'] : []);
    expect(p.DestinationConfig).toEqual({ OnFailure: { Destination: getAtt(c.queueId(src.onFailure), 'Arn') } });
    return p;
  });
};

const sqsSources: ParityCheck = (c) =>
  c.topology.sqsSources.map((src) => {
    const found = c.mappingsOf(src.function).filter((p) => same(p.EventSourceArn, getAtt(c.queueId(src.queue), 'Arn')));
    expect(found, `SQS mapping ${src.queue} -> ${src.function}`).toHaveLength(1);
    const p = found[0] as Props;
    expect(p.BatchSize).toBe(src.batchSize);
    expect(p.MaximumBatchingWindowInSeconds ?? 0).toBe(src.maxBatchingWindowSeconds);
    expect(p.FunctionResponseTypes ?? []).toEqual(src.reportBatchItemFailures ? ['ReportBatchItemFailures'] : []);
    return p;
  });

/** Queues and their redrive DLQs. */
const queues: ParityCheck = (c) => {
  const resources = c.s.json.Resources;
  for (const [qid, spec] of entries(c.topology.queues)) {
    const q = resources[c.queueId(qid)]?.Properties as Props;
    expect(q.QueueName).toBe(spec.name);
    expect(q.VisibilityTimeout).toBe(spec.visibilityTimeoutSeconds);
    expect(q.MessageRetentionPeriod).toBe(spec.retentionSeconds);
    const dlqId = logicalId(c.s.stack, c.s.stack.deadLetterQueues[qid]);
    expect(q.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(dlqId, 'Arn'),
      maxReceiveCount: spec.maxReceiveCount,
    });
    expect((resources[dlqId]?.Properties as Props).QueueName).toBe(spec.deadLetterQueueName);
  }
  return [];
};

const functions: ParityCheck = (c) => {
  for (const [fid, spec] of entries(c.topology.functions)) {
    const p = c.s.json.Resources[c.fnId(fid)]?.Properties as Props;
    expect(p.FunctionName).toBe(`${c.s.stack.stackName}-${spec.name}`);
    expect(p.MemorySize).toBe(spec.memoryMb);
    expect(p.Timeout).toBe(spec.timeoutSeconds);
    expect(p.Description).toBe(spec.description);
  }
  return [];
};

/** One rule per schedule, with the topology's rate, targeting its function. */
const schedules: ParityCheck = (c) => {
  const rules = resourcesOfType(c.s, 'AWS::Events::Rule').map(([, p]) => p);
  expect(rules).toHaveLength(c.topology.schedules.length);
  for (const schedule of c.topology.schedules) {
    const rule = rules.find(
      (r) =>
        r.ScheduleExpression === rateExpression(schedule) &&
        JSON.stringify(r.Targets).includes(JSON.stringify(getAtt(c.fnId(schedule.function), 'Arn'))),
    );
    expect(rule, `schedule of ${schedule.function}`).toBeDefined();
    expect((rule as Props).State ?? 'ENABLED').toBe('ENABLED');
  }
  return [];
};

/** The payload cap the validator and drainer classify with: every function whose wiring asks for it. */
const payloadCap: ParityCheck = (c) => {
  const needing = entries(c.topology.functions).filter(([fid]) => FUNCTION_WIRING[fid].payloadCap);
  expect(needing.length).toBeGreaterThan(0);
  for (const [fid] of needing) {
    const env = ((c.s.json.Resources[c.fnId(fid)]?.Properties as Props).Environment as { Variables: Props }).Variables;
    expect(env.PAYLOAD_CAP_BYTES, fid).toBe(String(c.topology.payloadCapBytes));
  }
  return [];
};

/** Every resource of a statement, as the rendered text of its Fn::Join (or the plain string). */
function resourceText(resource: unknown): string {
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  return join ? join[1].map((part) => (typeof part === 'string' ? part : '<token>')).join(join[0]) : String(resource);
}

/**
 * The MQTT door: the topic rule and the device policy carry `mqttDoor`'s values, and the local
 * rule engine, reading the same entry, forwards what the synthesized rule forwards with the key it
 * computes.
 */
const mqtt: ParityCheck = (c) => {
  const rules = resourcesOfType(c.s, 'AWS::IoT::TopicRule').map(([, p]) => p);
  expect(rules).toHaveLength(1);
  const rule = rules[0] as Props;
  expect(rule.RuleName).toBe(mqttDoor.ruleName);
  const payload = rule.TopicRulePayload as Props;
  expect(payload.Sql).toBe(mqttRuleSql(mqttDoor));
  expect(payload.RuleDisabled).toBe(false);
  const [action] = payload.Actions as [{ Kinesis: Props }];
  expect(action.Kinesis.StreamName).toEqual({ Ref: c.streamId });
  expect(action.Kinesis.PartitionKey).toBe(mqttDoor.partitionKey);
  expect((payload.ErrorAction as { Sqs: Props }).Sqs.QueueUrl).toEqual({ Ref: c.queueId(mqttDoor.errorDestination) });

  // The local engine: same filter (from the synthesized SQL), same key for a device's topic.
  const filter = /FROM '([^']+)'/.exec(payload.Sql as string)?.[1] as string;
  const engine = new LocalRuleEngine({
    door: mqttDoor,
    streamName: 'parity',
    writer: { write: async () => ({ sent: 0, failed: [], calls: 0 }) },
  });
  const topic = deviceTopicFor('temp-0042');
  expect(filter).toBe(mqttDoor.topicFilter);
  expect(engine.matches(topic)).toBe(true);
  expect(engine.matches('iot/other/temp-0042')).toBe(false);
  expect(renderTemplate(action.Kinesis.PartitionKey as string, { topic, clientId: 'temp-0042' })).toBe(
    'mqtt:temp-0042',
  );

  // The device policy: every resource is scoped to the connected thing; nothing lets one device act as another.
  const policies = resourcesOfType(c.s, 'AWS::IoT::Policy').map(([, p]) => p);
  expect(policies).toHaveLength(1);
  const policy = policies[0] as { PolicyName: string; PolicyDocument: { Statement: Props[] } };
  expect(policy.PolicyName).toBe(mqttDoor.policyName);
  const statements = policy.PolicyDocument.Statement;
  expect(statements.map((st) => st.Action).sort()).toEqual([
    'iot:Connect',
    'iot:Publish',
    'iot:Receive',
    'iot:Subscribe',
  ]);
  for (const st of statements) {
    expect(st.Effect).toBe('Allow');
    const text = resourceText(st.Resource);
    const afterAccount = text.split(':').slice(5).join(':');
    expect(afterAccount, text).toContain('${iot:Connection.Thing.ThingName}');
    // No wildcard before the thing name: `iot/sensors/*/...` would let a device use another's topic.
    const beforeThing = afterAccount.slice(0, afterAccount.indexOf('${iot:Connection.Thing.ThingName}'));
    expect(beforeThing, text).not.toMatch(/[*+#]/);
  }
  const connect = statements.find((st) => st.Action === 'iot:Connect') as Props;
  expect(connect.Condition).toEqual({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
  const publish = statements.find((st) => st.Action === 'iot:Publish') as Props;
  expect(resourceText(publish.Resource)).toMatch(
    /:topic\/iot\/sensors\/\$\{iot:Connection\.Thing\.ThingName\}\/readings$/,
  );
  return [];
};

/**
 * The query API door: one REST API per entry, named after it, whose stage is the entry's and whose
 * every method (`ANY /` and `ANY /{proxy+}`) is a Lambda proxy integration onto the entry's
 * function, which API Gateway (and only API Gateway, from this API) may invoke.
 */
const httpApis: ParityCheck = (c) => {
  const apis = resourcesOfType(c.s, 'AWS::ApiGateway::RestApi');
  expect(apis).toHaveLength(c.topology.httpApis.length);
  for (const spec of c.topology.httpApis) {
    const found = apis.find(([, p]) => p.Name === `${c.s.stack.stackName}-${spec.name}`);
    expect(found, `REST API ${spec.name}`).toBeDefined();
    const [apiId] = found as [string, Props];
    const ofApi = (type: string) => resourcesOfType(c.s, type).filter(([, p]) => same(p.RestApiId, { Ref: apiId }));
    const stages = ofApi('AWS::ApiGateway::Stage');
    expect(stages.map(([, p]) => p.StageName)).toEqual([spec.stageName]);
    const methods = ofApi('AWS::ApiGateway::Method').map(([, p]) => p);
    expect(methods).toHaveLength(2);
    const proxy = ofApi('AWS::ApiGateway::Resource').map(([id, p]) => [id, p.PathPart]);
    expect(proxy.map(([, part]) => part)).toEqual(['{proxy+}']);
    const target = JSON.stringify(getAtt(c.fnId(spec.function), 'Arn'));
    for (const m of methods) {
      expect(m.HttpMethod).toBe('ANY');
      const integration = m.Integration as Props;
      expect(integration.Type).toBe('AWS_PROXY');
      expect(integration.IntegrationHttpMethod).toBe('POST');
      expect(JSON.stringify(integration.Uri)).toContain(target);
    }
    const permissions = resourcesOfType(c.s, 'AWS::Lambda::Permission')
      .map(([, p]) => p)
      .filter((p) => p.Principal === 'apigateway.amazonaws.com');
    expect(permissions.length).toBeGreaterThan(0);
    for (const p of permissions) {
      expect(p.FunctionName).toEqual(getAtt(c.fnId(spec.function), 'Arn'));
      // Scoped to this API's stage, never "any API of the account".
      expect(JSON.stringify(p.SourceArn)).toContain(JSON.stringify({ Ref: apiId }));
    }
  }
  return [];
};

/** The alert topic: its name and display name, encrypted with the stack's own key. */
const alertTopic: ParityCheck = (c) => {
  const topics = resourcesOfType(c.s, 'AWS::SNS::Topic').map(([, p]) => p);
  expect(topics).toHaveLength(1);
  const topic = topics[0] as Props;
  expect(topic.TopicName).toBe(`${c.s.stack.stackName}-${c.topology.alertTopic.name}`);
  expect(topic.DisplayName).toBe(c.topology.alertTopic.displayName);
  const keyId = logicalId(c.s.stack, c.s.stack.alerts.key);
  expect(topic.KmsMasterKeyId).toEqual(getAtt(keyId, 'Arn'));
  // The functions that publish reading alerts (the aggregator) name this topic in their environment.
  const [topicId] = resourcesOfType(c.s, 'AWS::SNS::Topic')[0] as [string, Props];
  const publishers = entries(c.topology.functions).filter(([fid]) => FUNCTION_WIRING[fid].publishesAlerts);
  expect(publishers.map(([fid]) => fid)).toContain('aggregator');
  for (const [fid] of publishers) {
    const env = ((c.s.json.Resources[c.fnId(fid)]?.Properties as Props).Environment as { Variables: Props }).Variables;
    expect(env[FUNCTION_WIRING[fid].publishesAlerts?.env ?? ''], fid).toEqual({ Ref: topicId });
  }
  return [];
};

/** One check per topology section; a new section adds its own. */
export const PARITY_CHECKS: Readonly<Record<string, ParityCheck>> = {
  stream,
  kinesisSources,
  sqsSources,
  queues,
  functions,
  schedules,
  payloadCap,
  mqtt,
  httpApis,
  alertTopic,
};

export function assertTopologyParity(s: Synthesized, expected: Topology = topology): void {
  const c = parityContext(s, expected);
  const accounted = Object.values(PARITY_CHECKS).flatMap((check) => check(c));
  // Every event source mapping in the template is one the topology declares, each exactly once.
  expect(new Set(accounted).size).toBe(accounted.length);
  expect(c.mappings.filter((m) => !accounted.includes(m))).toEqual([]);
}
