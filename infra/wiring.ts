/**
 * What each topology function touches besides its event source, and how each kind of access
 * becomes environment variables and IAM grants.
 *
 * Two tables, both additive:
 * - {@link FUNCTION_WIRING}, one entry per function, typed by FunctionId: a function added to the
 *   topology without an entry here fails to compile;
 * - {@link WIRING_RULES}, one rule per kind of access (database, queues, stream, payload cap): a
 *   new kind (say, publishing to an alert topic) is a new optional field on
 *   {@link FunctionWiring} plus one rule, and leaves the other rules and the stack untouched.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { FunctionId, QueueId, Topology } from '#topology.js';
import type { PipelineDatabase } from './constructs/database.js';
import type { HeartbeatAlarmSpec, MetricAlarmSpec, RatioAlarmSpec } from './constructs/monitoring.js';
import type { GroupRole } from './database-roles.js';

/** What a function touches besides its event source (event sources grant their own reads). */
export interface FunctionWiring {
  /** Group role of the function's own database login user; omit if it never uses the database. */
  readonly databaseRole?: GroupRole;
  /** Queues it sends to, with the environment variable that carries the queue URL. */
  readonly sendsTo?: readonly { readonly queue: QueueId; readonly env: string }[];
  /** Environment variable that carries the stream name, for a function that writes to the stream. */
  readonly writesStream?: string;
  /** Reads records back from the stream by shard and sequence number (GetShardIterator/GetRecords). */
  readonly readsStream?: boolean;
  /** Needs PAYLOAD_CAP_BYTES (it classifies or stores raw record bytes). */
  readonly payloadCap?: boolean;
  /** Project folders the function reads at run time, copied into its bundle (see PipelineFunction). */
  readonly copyFolders?: readonly { readonly from: string; readonly to: string }[];
  /** Files a project script generates into the bundle at synth time (see PipelineFunction). */
  readonly generatedFolders?: readonly { readonly script: string; readonly to: string }[];
  /** Alarms on the function's own metrics (namespace IoTFirst, dimension service = `service`). */
  readonly metricAlarms?: readonly MetricAlarmSpec[];
  /** "Stopped" alarms: the function must emit this metric on every successful run (missing data breaches). */
  readonly heartbeatAlarms?: readonly HeartbeatAlarmSpec[];
  /** The rejection-rate alarm on the function's own counts; its threshold is the `rejectionRateAlarm` setting. */
  readonly rejectionRateAlarm?: Omit<RatioAlarmSpec, 'threshold'>;
  /**
   * Reads the pipeline's gauges for a health report (the query API): the stream's shards, the
   * depth of queues and dead-letter queues, a function's CloudWatch metrics (iterator age).
   */
  readonly gauges?: PipelineGaugesWiring;
  /**
   * Publishes reading alerts to the alert topic; `env` carries the topic ARN. Grants sns:Publish on
   * the topic and, because the topic is encrypted with the stack's key, kms:GenerateDataKey* and
   * kms:Decrypt on that key (Topic.grantPublish adds both).
   */
  readonly publishesAlerts?: { readonly env: string };
}

/** What a health report reads, each with the environment variable that names it. */
export interface PipelineGaugesWiring {
  /** Carries the stream name (kinesis:DescribeStreamSummary, kinesis:ListShards). */
  readonly streamEnv: string;
  /** Queues whose depth it reads (sqs:GetQueueAttributes); `deadLetter` for the queue's DLQ. */
  readonly queues: readonly { readonly queue: QueueId; readonly deadLetter: boolean; readonly env: string }[];
  /** A function whose AWS/Lambda metrics it reads (cloudwatch:GetMetricData), by deployed name. */
  readonly metricsOf: { readonly function: FunctionId; readonly env: string };
}

/** Why the gauges' CloudWatch statement has resource "*" (also the cdk-nag acknowledgement's reason). */
export const GET_METRIC_DATA_REASON =
  'cloudwatch:GetMetricData supports no resource-level permissions (the service authorization reference lists ' +
  'no resource type for it), so "*" is the only resource that works; it only reads metric values (here the ' +
  "validator's IteratorAge for the API's health report) and can change nothing.";

const WIRING = {
  producer: { writesStream: 'STREAM_NAME' },
  kafkaBridge: { writesStream: 'STREAM_NAME' },
  validator: {
    databaseRole: 'iot_ingest',
    sendsTo: [{ queue: 'errors', env: 'ERRORS_QUEUE_URL' }],
    payloadCap: true,
    rejectionRateAlarm: {
      service: 'validator',
      part: 'RecordsRejected',
      whole: 'RecordsReceived',
      description: 'Rejection rate: the share of records the validator rejected over 5 minutes reached the threshold',
    },
  },
  // Failure notices name a shard and a sequence range; the drainer reads those records back.
  dlqDrainer: { databaseRole: 'iot_ingest', readsStream: true, payloadCap: true },
  // Every successful run emits WindowsRecomputed (0 included); a failing or unscheduled one emits nothing.
  // After its transaction commits, it publishes the reading alerts it opened or closed (issue 10).
  aggregator: {
    databaseRole: 'iot_aggregation',
    publishesAlerts: { env: 'ALERT_TOPIC_ARN' },
    metricAlarms: [
      {
        service: 'aggregator',
        metric: 'AlertPublishFailures',
        description:
          'Reading alerts could not be published to the alert topic (they stay pending and go out on a later run)',
      },
    ],
    heartbeatAlarms: [
      {
        service: 'aggregator',
        metric: 'WindowsRecomputed',
        withinMinutes: 5,
        description: 'Aggregator stopped: no successful run in 5 minutes (windows and reading alerts are not updated)',
      },
    ],
  },
  // The handler looks for the SodaCL files at $LAMBDA_TASK_ROOT/soda/checks.
  dq: {
    databaseRole: 'iot_dq',
    copyFolders: [{ from: 'soda/checks', to: 'soda/checks' }],
    metricAlarms: [
      { service: 'dq', metric: 'DqChecksFailed', description: 'Data-quality checks failed (see dq_check_results)' },
      { service: 'dq', metric: 'DqChecksErrored', description: 'Data-quality checks could not be evaluated' },
    ],
  },
  // The query API (h-api's contract): a read-only user, plus the gauges of its /api/health. The
  // handler serves the dashboard from $LAMBDA_TASK_ROOT/dashboard, built from web/ at synth time.
  api: {
    databaseRole: 'iot_api',
    generatedFolders: [{ script: 'web/build-cli.ts', to: 'dashboard' }],
    gauges: {
      streamEnv: 'STREAM_NAME',
      queues: [
        { queue: 'errors', deadLetter: false, env: 'ERRORS_QUEUE_URL' },
        { queue: 'failures', deadLetter: false, env: 'FAILURES_QUEUE_URL' },
        { queue: 'errors', deadLetter: true, env: 'ERRORS_DLQ_URL' },
        { queue: 'failures', deadLetter: true, env: 'FAILURES_DLQ_URL' },
      ],
      metricsOf: { function: 'validator', env: 'VALIDATOR_FUNCTION_NAME' },
    },
  },
} satisfies Readonly<Record<string, FunctionWiring>>;

/** How each topology function is wired; typed by FunctionId so none can be forgotten. */
export const FUNCTION_WIRING: Readonly<Record<FunctionId, FunctionWiring>> = WIRING;

/**
 * PostgreSQL login user of a function: `iot_` plus its id in snake case (dlqDrainer →
 * iot_dlq_drainer), with `_login` added when that is its group role's own name (dq → iot_dq_login,
 * api → iot_api_login): a role cannot be granted to itself, and the group role must stay NOLOGIN.
 */
export function databaseUsername(id: string, groupRole?: string): string {
  const name = `iot_${id.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
  return name === groupRole ? `${name}_login` : name;
}

/** The shared resources a rule may hand to a function. */
export interface WiringTargets {
  readonly topology: Topology;
  readonly stream: kinesis.IStream;
  readonly queues: Readonly<Record<QueueId, sqs.IQueue>>;
  readonly deadLetterQueues: Readonly<Record<QueueId, sqs.IQueue>>;
  readonly database: PipelineDatabase;
  /** Deployed name of a topology function (known before the function exists). */
  readonly functionName: (id: FunctionId) => string;
  /** The topic alarms and reading alerts go to (constructs/alert-topic.ts). */
  readonly alertTopic: sns.ITopic;
}

/** One function's wiring entry with what was created for it before the function existed. */
export interface FunctionAccess {
  readonly wiring: FunctionWiring;
  /** Secret of the function's login user, when its wiring has a database role. */
  readonly userSecret?: secretsmanager.ISecret | undefined;
}

/**
 * One kind of access: the environment it adds before the function is created, the grants it adds
 * after. Rules run in table order, which is also the order of the variables and of the
 * statements in the function's policy.
 */
export interface WiringRule {
  environment(access: FunctionAccess, to: WiringTargets): Record<string, string>;
  grant(access: FunctionAccess, fn: lambda.IFunction, to: WiringTargets): void;
}

const databaseAccess: WiringRule = {
  environment: ({ userSecret }, { database }) =>
    userSecret ? { DB_SECRET_ARN: userSecret.secretArn, ...database.connectionEnvironment() } : {},
  grant: ({ userSecret }, fn, { database }) => {
    if (!userSecret) return;
    userSecret.grantRead(fn);
    database.allowFrom(fn);
  },
};

const queueSends: WiringRule = {
  environment: ({ wiring }, { queues }) =>
    Object.fromEntries((wiring.sendsTo ?? []).map((s) => [s.env, queues[s.queue].queueUrl])),
  grant: ({ wiring }, fn, { queues }) => {
    for (const s of wiring.sendsTo ?? []) queues[s.queue].grantSendMessages(fn);
  },
};

const streamWrites: WiringRule = {
  environment: ({ wiring }, { stream }) => (wiring.writesStream ? { [wiring.writesStream]: stream.streamName } : {}),
  grant: ({ wiring }, fn, { stream }) => {
    if (wiring.writesStream) stream.grantWrite(fn);
  },
};

const streamReads: WiringRule = {
  environment: () => ({}),
  grant: ({ wiring }, fn, { stream }) => {
    if (wiring.readsStream) stream.grantRead(fn);
  },
};

const payloadCap: WiringRule = {
  environment: ({ wiring }, { topology }): Record<string, string> =>
    wiring.payloadCap ? { PAYLOAD_CAP_BYTES: String(topology.payloadCapBytes) } : {},
  grant: () => {},
};

const gauges: WiringRule = {
  environment: ({ wiring }, to): Record<string, string> => {
    const g = wiring.gauges;
    if (!g) return {};
    return {
      [g.streamEnv]: to.stream.streamName,
      ...Object.fromEntries(
        g.queues.map((q) => [q.env, (q.deadLetter ? to.deadLetterQueues : to.queues)[q.queue].queueUrl]),
      ),
      [g.metricsOf.env]: to.functionName(g.metricsOf.function),
    };
  },
  grant: ({ wiring }, fn, to) => {
    const g = wiring.gauges;
    if (!g) return;
    to.stream.grant(fn, 'kinesis:DescribeStreamSummary', 'kinesis:ListShards');
    for (const q of g.queues)
      (q.deadLetter ? to.deadLetterQueues : to.queues)[q.queue].grant(fn, 'sqs:GetQueueAttributes');
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ReadPipelineMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
  },
};

const alertPublishing: WiringRule = {
  environment: ({ wiring }, { alertTopic }): Record<string, string> =>
    wiring.publishesAlerts ? { [wiring.publishesAlerts.env]: alertTopic.topicArn } : {},
  grant: ({ wiring }, fn, { alertTopic }) => {
    if (wiring.publishesAlerts) alertTopic.grantPublish(fn);
  },
};

/** Every kind of access, in the order the stack applies them. */
export const WIRING_RULES: readonly WiringRule[] = [
  databaseAccess,
  queueSends,
  streamWrites,
  streamReads,
  payloadCap,
  gauges,
  alertPublishing,
];

/** The environment a function's wiring asks for, from every rule in order. */
export function wiringEnvironment(access: FunctionAccess, to: WiringTargets): Record<string, string> {
  return Object.assign({}, ...WIRING_RULES.map((rule) => rule.environment(access, to)));
}

/** Adds every grant a function's wiring asks for. */
export function grantWiring(access: FunctionAccess, fn: lambda.IFunction, to: WiringTargets): void {
  for (const rule of WIRING_RULES) rule.grant(access, fn, to);
}
