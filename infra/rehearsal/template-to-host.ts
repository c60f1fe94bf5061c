/**
 * Reads the local Lambda host's configuration out of a synthesized template, so the rehearsal
 * runs what CloudFormation would create, not what src/topology.ts says: every function's memory,
 * timeout, handler string, runtime, asset folder and (unresolved) environment; the stream; the
 * queues with their redrive policies; the Kinesis and SQS event source mappings; the schedules.
 *
 * The topology is consulted for one thing only: which template function plays which role
 * (`FunctionId`) and which queue is which (`QueueId`), matched by deployed name, because the
 * host's parts are keyed by those ids. Every setting comes from the template; a mapping or rule
 * the host cannot represent is an error naming the resource, never silently dropped.
 */
import {
  type FunctionId,
  type FunctionSpec,
  type KinesisSourceSpec,
  type QueueId,
  type QueueSpec,
  type ScheduleSpec,
  type SqsSourceSpec,
  topology as sourceTopology,
  type Topology,
} from '#topology.js';
import { type CfnTemplate, isRecord, type TemplateResource } from '../checks/template.js';
import { assetDir } from './cold-start.js';
import { environmentOf, referencedId } from './intrinsics.js';

/** One `AWS::Lambda::Function` of the template. */
export interface TemplateFunction {
  readonly logicalId: string;
  /** The template's FunctionName (e.g. `IotFirst-iot-validator`), or the logical id. */
  readonly functionName: string;
  /** Its role in the topology, when it has one (the migrations handler and CDK's provider have none). */
  readonly id: FunctionId | undefined;
  /** The built asset folder in the cloud assembly; undefined for inline or CDK-provided code. */
  readonly assetDir: string | undefined;
  readonly handler: string;
  readonly runtime: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** `Environment.Variables` as written in the template (intrinsics unresolved). */
  readonly variables: Readonly<Record<string, unknown>>;
}

/** A custom resource and the function that carries out its events. */
export interface TemplateCustomResource {
  readonly logicalId: string;
  readonly type: string;
  /** The function CloudFormation's events reach: the user handler behind CDK's provider framework. */
  readonly handlerLogicalId: string;
  /** Properties as written (intrinsics unresolved), ServiceToken included, as CloudFormation sends them. */
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface HostPlan {
  /** The topology the host runs, every setting read from the template. */
  readonly topology: Topology;
  readonly functions: readonly TemplateFunction[];
  readonly customResources: readonly TemplateCustomResource[];
  /** Logical ids of the resources the host's parts stand for. */
  readonly logicalIds: {
    readonly stream: string;
    readonly queues: Readonly<Record<string, string>>;
  };
  readonly counts: { readonly kinesisSources: number; readonly sqsSources: number; readonly schedules: number };
}

export class TemplatePlanError extends Error {
  override readonly name = 'TemplatePlanError';
}

type Resources = [string, TemplateResource][];

const props = (r: TemplateResource | undefined): Record<string, unknown> => r?.Properties ?? {};
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown, fallback: number): number => (v === undefined ? fallback : Number(v));

function ofType(template: CfnTemplate, type: string): Resources {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** The topology role of a deployed name: `<stack>-iot-validator` plays `validator`. */
function roleOf<K extends string>(name: string, specs: Readonly<Record<K, { name: string }>>): K | undefined {
  return (Object.keys(specs) as K[]).find((k) => name === specs[k].name || name.endsWith(`-${specs[k].name}`));
}

function readFunctions(template: CfnTemplate, outdir: string): TemplateFunction[] {
  return ofType(template, 'AWS::Lambda::Function').map(([logicalId, r]) => {
    const p = props(r);
    const functionName = str(p.FunctionName, logicalId);
    return {
      logicalId,
      functionName,
      id: roleOf(functionName, sourceTopology.functions),
      assetDir: assetDir(outdir, r),
      handler: str(p.Handler),
      runtime: str(p.Runtime),
      // CloudFormation's defaults when the template leaves them out.
      memoryMb: num(p.MemorySize, 128),
      timeoutSeconds: num(p.Timeout, 3),
      variables: environmentOf(template, logicalId),
    };
  });
}

function readStream(template: CfnTemplate): { logicalId: string; spec: Topology['stream'] } {
  const streams = ofType(template, 'AWS::Kinesis::Stream');
  const [first] = streams;
  if (streams.length !== 1 || !first)
    throw new TemplatePlanError(`the host runs one stream; the template has ${streams.length}`);
  const p = props(first[1]);
  return {
    logicalId: first[0],
    spec: {
      name: str(p.Name, first[0]),
      shardCount: num(p.ShardCount, 1),
      retentionHours: num(p.RetentionPeriodHours, 24),
    },
  };
}

/** Queues with a redrive policy are the host's queues; the queue each one's policy names is its DLQ. */
function readQueues(template: CfnTemplate): { specs: Record<QueueId, QueueSpec>; logicalIds: Record<string, string> } {
  const specs: Partial<Record<QueueId, QueueSpec>> = {};
  const logicalIds: Record<string, string> = {};
  for (const [logicalId, r] of ofType(template, 'AWS::SQS::Queue')) {
    const p = props(r);
    if (!isRecord(p.RedrivePolicy)) continue;
    const name = str(p.QueueName, logicalId);
    const id = roleOf(name, sourceTopology.queues);
    if (!id) throw new TemplatePlanError(`queue ${logicalId} (${name}) plays no role in the topology`);
    const dlqId = referencedId(p.RedrivePolicy.deadLetterTargetArn);
    const dlq = dlqId ? template.Resources[dlqId] : undefined;
    if (!dlqId || dlq?.Type !== 'AWS::SQS::Queue')
      throw new TemplatePlanError(`queue ${logicalId}: its redrive policy names no queue of the template`);
    specs[id] = {
      name,
      // SQS's defaults when the template leaves them out.
      visibilityTimeoutSeconds: num(p.VisibilityTimeout, 30),
      retentionSeconds: num(p.MessageRetentionPeriod, 345_600),
      maxReceiveCount: num(p.RedrivePolicy.maxReceiveCount, 10),
      deadLetterQueueName: str(props(dlq).QueueName, dlqId),
    };
    logicalIds[logicalId] = id;
    logicalIds[dlqId] = `${id}Dlq`;
  }
  for (const id of Object.keys(sourceTopology.queues) as QueueId[])
    if (!specs[id]) throw new TemplatePlanError(`the template has no ${id} queue with a redrive policy`);
  return { specs: specs as Record<QueueId, QueueSpec>, logicalIds };
}

interface Lookup {
  readonly functions: readonly TemplateFunction[];
  readonly streamId: string;
  readonly queues: Readonly<Record<string, string>>;
}

function functionRole(lookup: Lookup, ref: unknown, where: string): FunctionId {
  const logicalId = referencedId(ref);
  const fn = lookup.functions.find((f) => f.logicalId === logicalId);
  if (!fn?.id)
    throw new TemplatePlanError(`${where}: targets ${logicalId ?? 'no function'}, which the host does not run`);
  return fn.id;
}

function queueRole(lookup: Lookup, ref: unknown, where: string): QueueId {
  const id = lookup.queues[referencedId(ref) ?? ''];
  if (!id || id.endsWith('Dlq')) throw new TemplatePlanError(`${where}: names no queue the host runs`);
  return id as QueueId;
}

function kinesisSource(lookup: Lookup, logicalId: string, p: Record<string, unknown>): KinesisSourceSpec {
  const onFailure = isRecord(p.DestinationConfig) && isRecord(p.DestinationConfig.OnFailure);
  if (!onFailure)
    throw new TemplatePlanError(`${logicalId}: a Kinesis mapping without an on-failure destination is not run here`);
  const position = str(p.StartingPosition);
  if (position !== 'TRIM_HORIZON' && position !== 'LATEST')
    throw new TemplatePlanError(`${logicalId}: starting position ${position || '(none)'} is not run here`);
  return {
    function: functionRole(lookup, p.FunctionName, logicalId),
    // Lambda's defaults for a Kinesis mapping when the template leaves them out.
    batchSize: num(p.BatchSize, 100),
    maxBatchingWindowSeconds: num(p.MaximumBatchingWindowInSeconds, 0),
    parallelizationFactor: num(p.ParallelizationFactor, 1),
    bisectBatchOnError: p.BisectBatchOnFunctionError === true,
    retryAttempts: num(p.MaximumRetryAttempts, -1),
    maxRecordAgeSeconds: num(p.MaximumRecordAgeInSeconds, -1),
    reportBatchItemFailures:
      Array.isArray(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
    startingPosition: position,
    onFailure: queueRole(
      lookup,
      (p.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination,
      `${logicalId} on-failure`,
    ),
  };
}

function sqsSource(lookup: Lookup, logicalId: string, p: Record<string, unknown>): SqsSourceSpec {
  return {
    function: functionRole(lookup, p.FunctionName, logicalId),
    queue: queueRole(lookup, p.EventSourceArn, logicalId),
    batchSize: num(p.BatchSize, 10),
    maxBatchingWindowSeconds: num(p.MaximumBatchingWindowInSeconds, 0),
    reportBatchItemFailures:
      Array.isArray(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
  };
}

function readMappings(template: CfnTemplate, lookup: Lookup): { kinesis: KinesisSourceSpec[]; sqs: SqsSourceSpec[] } {
  const kinesis: KinesisSourceSpec[] = [];
  const sqs: SqsSourceSpec[] = [];
  for (const [logicalId, r] of ofType(template, 'AWS::Lambda::EventSourceMapping')) {
    const p = props(r);
    const source = referencedId(p.EventSourceArn);
    if (source === lookup.streamId) kinesis.push(kinesisSource(lookup, logicalId, p));
    else if (source && lookup.queues[source]) sqs.push(sqsSource(lookup, logicalId, p));
    // Kafka (MSK or self-managed) has no broker in the embedded stack: the rehearsal says so.
    else if (p.SelfManagedEventSource || p.AmazonManagedKafkaEventSourceConfig || p.Topics) continue;
    else
      throw new TemplatePlanError(
        `${logicalId}: an event source the host does not run (${JSON.stringify(p.EventSourceArn)})`,
      );
  }
  return { kinesis, sqs };
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const MINUTES: Record<string, number> = { minute: 1, hour: 60, day: 1440 };

function readSchedules(template: CfnTemplate, lookup: Lookup): ScheduleSpec[] {
  const out: ScheduleSpec[] = [];
  for (const [logicalId, r] of ofType(template, 'AWS::Events::Rule')) {
    const p = props(r);
    if (p.ScheduleExpression === undefined) continue;
    if (p.State === 'DISABLED') continue;
    const rate = RATE.exec(str(p.ScheduleExpression));
    if (!rate)
      throw new TemplatePlanError(`${logicalId}: schedule ${String(p.ScheduleExpression)} is not a rate the host runs`);
    const unit = MINUTES[(rate[2] ?? 'minute').replace(/s$/, '')] ?? 1;
    const targets = Array.isArray(p.Targets) ? p.Targets : [];
    for (const target of targets) {
      out.push({
        function: functionRole(lookup, isRecord(target) ? target.Arn : undefined, logicalId),
        everyMinutes: Number(rate[1]) * unit,
        description: str(p.Description, logicalId),
      });
    }
  }
  return out;
}

/** Custom resources whose ServiceToken is a function of the template, resolved to the user handler. */
function readCustomResources(template: CfnTemplate, functions: readonly TemplateFunction[]): TemplateCustomResource[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource')
    .map(([logicalId, r]) => {
      const p = props(r);
      const provider = functions.find((f) => f.logicalId === referencedId(p.ServiceToken));
      if (!provider) throw new TemplatePlanError(`${logicalId}: its ServiceToken is not a function of the template`);
      // CDK's provider framework forwards each event to the function its environment names.
      const user = referencedId(provider.variables.USER_ON_EVENT_FUNCTION_ARN);
      return { logicalId, type: r.Type, handlerLogicalId: user ?? provider.logicalId, properties: p };
    });
}

function topologyFunctions(functions: readonly TemplateFunction[]): Record<FunctionId, FunctionSpec> {
  const out: Partial<Record<FunctionId, FunctionSpec>> = {};
  for (const f of functions) {
    if (!f.id) continue;
    out[f.id] = {
      name: f.functionName,
      // Unused: the host runs the asset (LambdaHostOptions.functionSources), kept for the Topology type.
      entry: sourceTopology.functions[f.id].entry,
      memoryMb: f.memoryMb,
      timeoutSeconds: f.timeoutSeconds,
      description: f.logicalId,
    };
  }
  const missing = (Object.keys(sourceTopology.functions) as FunctionId[]).filter((id) => !out[id]);
  if (missing.length > 0) throw new TemplatePlanError(`the template has no function for ${missing.join(', ')}`);
  return out as Record<FunctionId, FunctionSpec>;
}

/** The host's configuration as the template gives it. */
export function templateToHost(template: CfnTemplate, outdir: string): HostPlan {
  const functions = readFunctions(template, outdir);
  const stream = readStream(template);
  const queues = readQueues(template);
  const lookup: Lookup = { functions, streamId: stream.logicalId, queues: queues.logicalIds };
  const mappings = readMappings(template, lookup);
  const schedules = readSchedules(template, lookup);
  const validator = functions.find((f) => f.id === 'validator');
  const cap = Number(validator?.variables.PAYLOAD_CAP_BYTES);
  return {
    topology: {
      // Parts the host does not run from the template (none today; a door added later) keep the source's.
      ...sourceTopology,
      stream: stream.spec,
      payloadCapBytes: Number.isInteger(cap) && cap > 0 ? cap : sourceTopology.payloadCapBytes,
      functions: topologyFunctions(functions),
      queues: queues.specs,
      kinesisSources: mappings.kinesis,
      sqsSources: mappings.sqs,
      // Kafka mappings need a broker; the rehearsal invokes the bridge with a Kafka-shaped event.
      kafkaSources: [],
      schedules,
    },
    functions,
    customResources: readCustomResources(template, functions),
    logicalIds: { stream: stream.logicalId, queues: queues.logicalIds },
    counts: { kinesisSources: mappings.kinesis.length, sqsSources: mappings.sqs.length, schedules: schedules.length },
  };
}
