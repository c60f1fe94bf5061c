/**
 * Value checks the resource specification cannot make (it has types and required flags, few
 * enums and no ranges): the values this stack depends on, each checked against the limits AWS
 * documents, so a typo or an out-of-range setting fails here instead of in CREATE_FAILED.
 *
 * Rules are keyed by resource type and apply to every resource of that type the template holds;
 * a type without rules is only schema-checked. Values behind an intrinsic function are skipped
 * (their type was checked by the schema check).
 */
import { type CfnTemplate, type Finding, intrinsicName, isRecord, type TemplateResource } from './template.js';

/**
 * Lambda runtime identifiers a function of this stack may use, from the AWS Lambda runtimes page
 * (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html, read 2026-11-30): Node.js 22 and 24
 * are supported; nodejs20.x and older are deprecated (creation blocked). OS-only runtimes for
 * compiled handlers. A runtime outside this table is reported, a typo included (`nodejs24`).
 */
export const SUPPORTED_RUNTIMES: Readonly<Record<string, string>> = {
  'nodejs24.x': 'Node.js 24, Amazon Linux 2023',
  'nodejs22.x': 'Node.js 22, Amazon Linux 2023',
  'provided.al2023': 'OS-only runtime, Amazon Linux 2023',
};

/** Environment variables Lambda reserves; setting one fails the function's creation. */
const RESERVED_ENVIRONMENT = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);

/** Where a rule is looking, and how it reports. */
export interface RuleContext {
  readonly id: string;
  readonly resource: TemplateResource;
  readonly props: Record<string, unknown>;
  readonly template: CfnTemplate;
  report(path: string, message: string): void;
}

type Rule = (ctx: RuleContext) => void;

/** A literal value, or undefined when absent or computed by an intrinsic. */
function literal(v: unknown): unknown {
  return v === undefined || intrinsicName(v) ? undefined : v;
}

function checkRange(ctx: RuleContext, name: string, min: number, max: number, also: readonly number[] = []): void {
  const raw = literal(ctx.props[name]);
  if (raw === undefined) return;
  const n = Number(raw);
  if (!Number.isInteger(n) || ((n < min || n > max) && !also.includes(n))) {
    const extra = also.length ? ` or ${also.join(', ')}` : '';
    ctx.report(`Properties.${name}`, `${String(raw)} is outside ${min}..${max}${extra}`);
  }
}

function checkOneOf(ctx: RuleContext, path: string, value: unknown, allowed: readonly string[]): void {
  const v = literal(value);
  if (v !== undefined && !allowed.includes(String(v))) {
    ctx.report(path, `${String(v)} is not one of ${allowed.join(', ')}`);
  }
}

function checkName(ctx: RuleContext, name: string, pattern: RegExp, max: number): void {
  const v = literal(ctx.props[name]);
  if (typeof v !== 'string') return;
  if (v.length > max || !pattern.test(v)) {
    ctx.report(`Properties.${name}`, `${v} must match ${pattern} and be at most ${max} characters`);
  }
}

/** The resource a `Ref`/`Fn::GetAtt` points at, if the value is one. */
export function referencedResource(template: CfnTemplate, v: unknown): TemplateResource | undefined {
  if (!isRecord(v)) return undefined;
  const target = typeof v.Ref === 'string' ? v.Ref : Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'][0] : undefined;
  return typeof target === 'string' ? template.Resources[target] : undefined;
}

const lambdaFunction: Rule = (ctx) => {
  const { props } = ctx;
  const runtime = literal(props.Runtime);
  if (runtime !== undefined && !SUPPORTED_RUNTIMES[String(runtime)]) {
    ctx.report(
      'Properties.Runtime',
      `${String(runtime)} is not a supported runtime (${Object.keys(SUPPORTED_RUNTIMES).join(', ')})`,
    );
  }
  checkRange(ctx, 'MemorySize', 128, 10240);
  checkRange(ctx, 'Timeout', 1, 900);
  const archs = literal(props.Architectures);
  if (Array.isArray(archs)) {
    if (archs.length > 1) ctx.report('Properties.Architectures', 'a function has exactly one architecture');
    for (const [i, a] of archs.entries()) checkOneOf(ctx, `Properties.Architectures[${i}]`, a, ['x86_64', 'arm64']);
  }
  const handler = literal(props.Handler);
  if (typeof handler === 'string' && !/^[^\s]+\.[A-Za-z_$][\w$]*$/.test(handler)) {
    ctx.report('Properties.Handler', `${handler} is not <file>.<export>`);
  }
  checkName(ctx, 'FunctionName', /^[a-zA-Z0-9_-]+$/, 64);
  const env = isRecord(props.Environment) && isRecord(props.Environment.Variables) ? props.Environment.Variables : {};
  let bytes = 0;
  for (const [key, value] of Object.entries(env)) {
    if (!/^[a-zA-Z]\w+$/.test(key)) ctx.report(`Properties.Environment.Variables.${key}`, 'not a valid variable name');
    if (RESERVED_ENVIRONMENT.has(key)) ctx.report(`Properties.Environment.Variables.${key}`, 'reserved by Lambda');
    bytes += key.length + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  }
  if (bytes > 4096) ctx.report('Properties.Environment', `literal variables take ${bytes} bytes, Lambda allows 4 KB`);
};

type SourceKind = 'stream' | 'queue' | 'kafka' | 'unknown';

function sourceKind(ctx: RuleContext): SourceKind {
  const { props, template } = ctx;
  if (props.SelfManagedEventSource !== undefined || props.AmazonManagedKafkaEventSourceConfig !== undefined) {
    return 'kafka';
  }
  const target = referencedResource(template, props.EventSourceArn);
  const arn = literal(props.EventSourceArn);
  const type = target?.Type ?? (typeof arn === 'string' ? `arn:${arn.split(':')[2] ?? ''}` : '');
  if (/Kinesis::Stream|DynamoDB::Table|^arn:kinesis|^arn:dynamodb/.test(type)) return 'stream';
  if (/SQS::Queue|^arn:sqs/.test(type)) return 'queue';
  if (/MSK::|^arn:kafka/.test(type)) return 'kafka';
  return 'unknown';
}

const STREAM_ONLY = [
  'StartingPosition',
  'ParallelizationFactor',
  'BisectBatchOnFunctionError',
  'MaximumRetryAttempts',
  'MaximumRecordAgeInSeconds',
  'TumblingWindowInSeconds',
  'DestinationConfig',
];

const eventSourceMapping: Rule = (ctx) => {
  const { props } = ctx;
  const kind = sourceKind(ctx);
  if (kind === 'unknown') {
    ctx.report('Properties.EventSourceArn', 'cannot tell the kind of event source (stream, queue, Kafka)');
    return;
  }
  checkRange(ctx, 'BatchSize', 1, 10000);
  checkRange(ctx, 'MaximumBatchingWindowInSeconds', 0, 300);
  const responses = literal(props.FunctionResponseTypes);
  if (Array.isArray(responses)) {
    for (const [i, r] of responses.entries()) {
      checkOneOf(ctx, `Properties.FunctionResponseTypes[${i}]`, r, ['ReportBatchItemFailures']);
    }
  }
  if (kind === 'queue') {
    checkQueueSource(ctx);
    return;
  }
  if (props.StartingPosition === undefined) ctx.report('Properties.StartingPosition', `required for a ${kind} source`);
  checkOneOf(ctx, 'Properties.StartingPosition', props.StartingPosition, ['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']);
  if (kind === 'stream') {
    checkRange(ctx, 'ParallelizationFactor', 1, 10);
    checkRange(ctx, 'MaximumRetryAttempts', 0, 10000, [-1]);
    checkRange(ctx, 'MaximumRecordAgeInSeconds', 60, 604800, [-1]);
    checkRange(ctx, 'TumblingWindowInSeconds', 0, 900);
  }
};

/** SQS sources take none of the stream settings; batches over 10 need a batching window. */
function checkQueueSource(ctx: RuleContext): void {
  const { props, template } = ctx;
  for (const name of STREAM_ONLY) {
    if (props[name] !== undefined) ctx.report(`Properties.${name}`, 'not valid for an SQS event source');
  }
  const batch = Number(literal(props.BatchSize) ?? 10);
  const window = Number(literal(props.MaximumBatchingWindowInSeconds) ?? 0);
  if (batch > 10 && window < 1) {
    ctx.report('Properties.BatchSize', `${batch} needs MaximumBatchingWindowInSeconds >= 1 on an SQS source`);
  }
  // Lambda refuses the mapping when the queue's visibility timeout is below the function's timeout.
  const queue = referencedResource(template, props.EventSourceArn);
  const fn = referencedResource(template, props.FunctionName);
  const visibility = Number(literal(queue?.Properties?.VisibilityTimeout) ?? 30);
  const timeout = Number(literal(fn?.Properties?.Timeout) ?? 3);
  if (fn && queue && visibility < timeout) {
    ctx.report('Properties.EventSourceArn', `queue visibility timeout ${visibility} s < function timeout ${timeout} s`);
  }
}

const sqsQueue: Rule = (ctx) => {
  checkRange(ctx, 'VisibilityTimeout', 0, 43200);
  checkRange(ctx, 'MessageRetentionPeriod', 60, 1209600);
  checkRange(ctx, 'DelaySeconds', 0, 900);
  checkRange(ctx, 'MaximumMessageSize', 1024, 1048576);
  checkName(ctx, 'QueueName', /^[a-zA-Z0-9_-]+(\.fifo)?$/, 80);
  const redrive = literal(ctx.props.RedrivePolicy);
  if (isRecord(redrive)) {
    const max = Number(literal(redrive.maxReceiveCount));
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      ctx.report('Properties.RedrivePolicy.maxReceiveCount', `${String(redrive.maxReceiveCount)} is outside 1..1000`);
    }
    if (redrive.deadLetterTargetArn === undefined) {
      ctx.report('Properties.RedrivePolicy.deadLetterTargetArn', 'a redrive policy needs its dead-letter queue');
    }
  }
};

const kinesisStream: Rule = (ctx) => {
  const mode = isRecord(ctx.props.StreamModeDetails) ? literal(ctx.props.StreamModeDetails.StreamMode) : undefined;
  if (mode !== 'ON_DEMAND') checkRange(ctx, 'ShardCount', 1, 100000);
  checkRange(ctx, 'RetentionPeriodHours', 24, 8760);
  checkName(ctx, 'Name', /^[a-zA-Z0-9_.-]+$/, 128);
};

const eventsRule: Rule = (ctx) => {
  const expr = literal(ctx.props.ScheduleExpression);
  if (typeof expr !== 'string') return;
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expr);
  if (rate) {
    const n = Number(rate[1]);
    const plural = (rate[2] as string).endsWith('s');
    if (n < 1 || (n === 1) === plural)
      ctx.report('Properties.ScheduleExpression', `${expr}: use "1 minute" or "N minutes"`);
    return;
  }
  const cron = /^cron\((.+)\)$/.exec(expr);
  if (!cron || (cron[1] as string).trim().split(/\s+/).length !== 6) {
    ctx.report('Properties.ScheduleExpression', `${expr} is neither rate(N unit) nor cron(6 fields)`);
  }
};

/** IAM statements: an effect, and actions of the form `service:Action`. */
function checkPolicyDocument(ctx: RuleContext, path: string, doc: unknown): void {
  if (!isRecord(doc)) return;
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  statements.forEach((s, i) => {
    if (!isRecord(s)) return;
    checkOneOf(ctx, `${path}.Statement[${i}].Effect`, s.Effect, ['Allow', 'Deny']);
    const actions = s.Action === undefined ? [] : Array.isArray(s.Action) ? s.Action : [s.Action];
    for (const a of actions) {
      if (typeof a === 'string' && a !== '*' && !/^[a-z0-9-]+:[A-Za-z0-9*]+$/.test(a)) {
        ctx.report(`${path}.Statement[${i}].Action`, `${a} is not service:Action`);
      }
    }
  });
}

const iamPolicy: Rule = (ctx) => checkPolicyDocument(ctx, 'Properties.PolicyDocument', ctx.props.PolicyDocument);
const iamRole: Rule = (ctx) =>
  checkPolicyDocument(ctx, 'Properties.AssumeRolePolicyDocument', ctx.props.AssumeRolePolicyDocument);

/** Rules per resource type; a resource whose type has none is only schema-checked. */
export const VALUE_RULES: Readonly<Record<string, Rule>> = {
  'AWS::Lambda::Function': lambdaFunction,
  'AWS::Lambda::EventSourceMapping': eventSourceMapping,
  'AWS::SQS::Queue': sqsQueue,
  'AWS::Kinesis::Stream': kinesisStream,
  'AWS::Events::Rule': eventsRule,
  'AWS::IAM::Policy': iamPolicy,
  'AWS::IAM::Role': iamRole,
};

/** Every value-rule finding of a template. */
export function checkTemplateValues(template: CfnTemplate): Finding[] {
  const out: Finding[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const rule = VALUE_RULES[resource.Type];
    if (!rule) continue;
    rule({
      id,
      resource,
      props: isRecord(resource.Properties) ? resource.Properties : {},
      template,
      report: (path, message) =>
        out.push({ resource: id, resourceType: resource.Type, path, kind: 'value-rule', message }),
    });
  }
  return out;
}
