/**
 * The IoT First pipeline as one CloudFormation stack, built from `src/topology.ts`.
 *
 * Every name, size, timeout, event-source setting, queue setting and schedule is read from the
 * topology, the same module the embedded runtime uses; this file only decides how those pieces
 * are wired and secured. The two targets differ only in where PostgreSQL lives (see
 * constructs/database.ts); test/infra proves both templates carry the topology's values.
 *
 * Adding a function: add it to the topology (FunctionId, functions, and its schedule or event
 * source), then add its entry to {@link FUNCTION_WIRING} below; the type of that table makes the
 * compiler ask for it. Schedules, alarms and dashboard widgets follow from the topology.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  topology as defaultTopology,
  type FunctionId,
  type QueueId,
  rateExpression,
  type Topology,
} from '#topology.js';
import { AwsDatabase, LocalStackDatabase, type PipelineDatabase } from './constructs/database.js';
import { Monitoring } from './constructs/monitoring.js';
import { PipelineFunction } from './constructs/pipeline-function.js';
import { type DatabaseUser, SchemaMigrations } from './constructs/schema-migrations.js';
import type { GroupRole } from './database-roles.js';
import type { DeploymentSettings } from './settings.js';

/** Repository root: entries in the topology are relative to it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

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
  /** Alarms on the function's own metrics (namespace IoTFirst, dimension service = `service`). */
  readonly metricAlarms?: readonly {
    readonly service: string;
    readonly metric: string;
    readonly description: string;
  }[];
}

const WIRING = {
  producer: { writesStream: 'STREAM_NAME' },
  validator: { databaseRole: 'iot_ingest', sendsTo: [{ queue: 'errors', env: 'ERRORS_QUEUE_URL' }], payloadCap: true },
  // Failure notices name a shard and a sequence range; the drainer reads those records back.
  dlqDrainer: { databaseRole: 'iot_ingest', readsStream: true, payloadCap: true },
  aggregator: { databaseRole: 'iot_aggregation' },
  // The handler looks for the SodaCL files at $LAMBDA_TASK_ROOT/soda/checks.
  dq: {
    databaseRole: 'iot_dq',
    copyFolders: [{ from: 'soda/checks', to: 'soda/checks' }],
    metricAlarms: [
      { service: 'dq', metric: 'DqChecksFailed', description: 'Data-quality checks failed (see dq_check_results)' },
      { service: 'dq', metric: 'DqChecksErrored', description: 'Data-quality checks could not be evaluated' },
    ],
  },
} satisfies Readonly<Record<string, FunctionWiring>>;

/**
 * How each topology function is wired. Typed by FunctionId, so a function added to the topology
 * without an entry here fails to compile. (`dq` may be listed before the topology has it: the
 * data-quality function arrives through another change.)
 */
export const FUNCTION_WIRING: Readonly<Record<FunctionId, FunctionWiring>> = WIRING;

/** PostgreSQL login user of a function: `iot_` plus its id in snake case (dlqDrainer → iot_dlq_drainer). */
export function databaseUsername(id: string): string {
  return `iot_${id.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

export interface PipelineStackProps extends StackProps {
  readonly settings: DeploymentSettings;
  /** Defaults to the project's topology; tests may pass a variant. */
  readonly topology?: Topology;
  /** Defaults to the repository root. */
  readonly projectRoot?: string;
  /** Write esbuild metafiles into the bundles (tests list the bundled modules from them). */
  readonly bundleMetafile?: boolean;
}

export class PipelineStack extends Stack {
  readonly stream: kinesis.Stream;
  readonly queues: Record<QueueId, sqs.Queue>;
  readonly deadLetterQueues: Record<QueueId, sqs.Queue>;
  readonly functions: Record<FunctionId, PipelineFunction>;
  readonly database: PipelineDatabase;
  readonly migrations: SchemaMigrations;
  readonly monitoring: Monitoring;
  readonly settings: DeploymentSettings;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const topo = props.topology ?? defaultTopology;
    const settings = props.settings;
    this.settings = settings;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    const functionName = (name: string) => `${this.stackName}-${name}`;

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: topo.stream.name,
      shardCount: topo.stream.shardCount,
      retentionPeriod: Duration.hours(topo.stream.retentionHours),
      // The AWS managed key: encryption at rest without per-request KMS charges for a customer key.
      encryption: kinesis.StreamEncryption.MANAGED,
      removalPolicy: settings.removalPolicy,
    });

    const queues = {} as Record<QueueId, sqs.Queue>;
    const dlqs = {} as Record<QueueId, sqs.Queue>;
    for (const [qid, spec] of Object.entries(topo.queues) as [QueueId, Topology['queues'][QueueId]][]) {
      const dlq = new sqs.Queue(this, `${pascal(qid)}DeadLetterQueue`, {
        queueName: spec.deadLetterQueueName,
        retentionPeriod: Duration.days(14),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        removalPolicy: settings.removalPolicy,
      });
      dlqs[qid] = dlq;
      queues[qid] = new sqs.Queue(this, `${pascal(qid)}Queue`, {
        queueName: spec.name,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        retentionPeriod: Duration.seconds(spec.retentionSeconds),
        deadLetterQueue: { queue: dlq, maxReceiveCount: spec.maxReceiveCount },
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        removalPolicy: settings.removalPolicy,
      });
    }
    this.queues = queues;
    this.deadLetterQueues = dlqs;

    this.database =
      settings.target === 'aws'
        ? new AwsDatabase(this, 'Database', {
            settings: settings.database,
            removalPolicy: settings.removalPolicy,
            logRetentionDays: settings.logRetentionDays,
          })
        : new LocalStackDatabase(this, 'Database');
    const db = this.database;

    const functionIds = Object.keys(topo.functions) as FunctionId[];
    const users: DatabaseUser[] = [];
    const userSecrets = new Map<FunctionId, DatabaseUser>();
    for (const fid of functionIds) {
      const role = FUNCTION_WIRING[fid].databaseRole;
      if (!role) continue;
      const user = { secret: db.addUser(pascal(fid), databaseUsername(fid)), groupRole: role };
      users.push(user);
      userSecrets.set(fid, user);
    }
    db.finalize();

    const functions = {} as Record<FunctionId, PipelineFunction>;
    for (const fid of functionIds) {
      const spec = topo.functions[fid];
      const wiring = FUNCTION_WIRING[fid];
      const user = userSecrets.get(fid);
      const environment: Record<string, string> = {};
      if (user) Object.assign(environment, { DB_SECRET_ARN: user.secret.secretArn }, db.connectionEnvironment());
      for (const s of wiring.sendsTo ?? []) environment[s.env] = queues[s.queue].queueUrl;
      if (wiring.writesStream) environment[wiring.writesStream] = this.stream.streamName;
      if (wiring.payloadCap) environment.PAYLOAD_CAP_BYTES = String(topo.payloadCapBytes);

      const fn = new PipelineFunction(this, pascal(fid), {
        functionName: functionName(spec.name),
        entry: path.join(projectRoot, spec.entry),
        description: spec.description,
        memoryMb: spec.memoryMb,
        timeoutSeconds: spec.timeoutSeconds,
        environment,
        logRetentionDays: settings.logRetentionDays,
        removalPolicy: settings.removalPolicy,
        projectRoot,
        // Only functions that reach the database need the VPC; the producer stays outside it.
        vpc: user ? db.vpc : undefined,
        vpcSubnets: user ? db.vpcSubnets : undefined,
        bundleMetafile: props.bundleMetafile,
        copyFolders: wiring.copyFolders,
      });
      if (user) {
        user.secret.grantRead(fn.function);
        db.allowFrom(fn.function);
      }
      for (const s of wiring.sendsTo ?? []) queues[s.queue].grantSendMessages(fn.function);
      if (wiring.writesStream) this.stream.grantWrite(fn.function);
      if (wiring.readsStream) this.stream.grantRead(fn.function);
      functions[fid] = fn;
    }
    this.functions = functions;

    this.migrations = new SchemaMigrations(this, 'Migrations', {
      functionName: functionName('iot-migrations'),
      database: db,
      users,
      projectRoot,
      logRetentionDays: settings.logRetentionDays,
      removalPolicy: settings.removalPolicy,
      bundleMetafile: props.bundleMetafile,
    });
    // A rotation that runs before the migrations resource has created its user fails; Secrets
    // Manager rotates once as soon as a schedule exists, so schedules wait for the migrations.
    for (const c of this.node.findAll()) {
      if (c instanceof secretsmanager.CfnRotationSchedule) c.node.addDependency(this.migrations.resource);
    }

    // Event sources and schedules start only once the schema and the users exist.
    for (const src of topo.kinesisSources) {
      const fn = functions[src.function].function;
      fn.addEventSource(
        new sources.KinesisEventSource(this.stream, {
          batchSize: src.batchSize,
          maxBatchingWindow: Duration.seconds(src.maxBatchingWindowSeconds),
          parallelizationFactor: src.parallelizationFactor,
          bisectBatchOnError: src.bisectBatchOnError,
          retryAttempts: src.retryAttempts,
          maxRecordAge: Duration.seconds(src.maxRecordAgeSeconds),
          reportBatchItemFailures: src.reportBatchItemFailures,
          startingPosition: lambda.StartingPosition[src.startingPosition],
          onFailure: new sources.SqsDlq(queues[src.onFailure]),
        }),
      );
    }
    for (const src of topo.sqsSources) {
      functions[src.function].function.addEventSource(
        new sources.SqsEventSource(queues[src.queue], {
          batchSize: src.batchSize,
          maxBatchingWindow: Duration.seconds(src.maxBatchingWindowSeconds),
          reportBatchItemFailures: src.reportBatchItemFailures,
        }),
      );
    }
    for (const fid of functionIds) {
      for (const child of functions[fid].function.node.findAll()) {
        if (child instanceof lambda.CfnEventSourceMapping) child.node.addDependency(this.migrations.resource);
      }
    }
    topo.schedules.forEach((schedule, index) => {
      const rule = new events.Rule(this, `${pascal(schedule.function)}Schedule${index === 0 ? '' : index}`, {
        schedule: events.Schedule.expression(rateExpression(schedule)),
        description: schedule.description,
        targets: [new targets.LambdaFunction(functions[schedule.function].function)],
      });
      rule.node.addDependency(this.migrations.resource);
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      dashboardName: `${this.stackName}-pipeline`,
      stream: this.stream,
      streamConsumer: functions[topo.kinesisSources[0]?.function ?? 'validator'].function,
      functions: Object.fromEntries(functionIds.map((fid) => [fid, functions[fid].function])),
      deadLetterQueues: Object.fromEntries(Object.entries(dlqs).map(([qid, q]) => [`${qid}Dlq`, q])),
      onFailureQueues: Object.fromEntries(topo.kinesisSources.map((s) => [`${s.onFailure}Queue`, queues[s.onFailure]])),
      queues: Object.fromEntries(Object.entries(queues).map(([qid, q]) => [`${qid}Queue`, q])),
      metricAlarms: functionIds.flatMap((fid) => FUNCTION_WIRING[fid].metricAlarms ?? []),
      alarmTopicArn: settings.alarmTopicArn,
    });

    new CfnOutput(this, 'StreamName', { value: this.stream.streamName });
    for (const fid of functionIds) {
      new CfnOutput(this, `${pascal(fid)}FunctionName`, { value: functions[fid].function.functionName });
    }
    new CfnOutput(this, 'DatabaseAdminSecretArn', {
      value: db.adminSecret.secretArn,
      description: 'ARN only; read the value with secretsmanager get-secret-value when you need to connect',
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
  }
}

function pascal(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}
