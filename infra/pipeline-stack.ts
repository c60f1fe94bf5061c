/**
 * The IoT First pipeline as one CloudFormation stack, built from `src/topology.ts`.
 *
 * Every name, size, timeout, event-source setting, queue setting and schedule is read from the
 * topology, the same module the embedded runtime uses; this file only decides the order in which
 * the parts are built. The two targets differ only in where PostgreSQL lives (see
 * constructs/database.ts); test/infra proves both templates carry the topology's values.
 *
 * The parts, each its own step below and its own module where it has more than a few lines:
 * messaging (stream, queues), database, functions (wired by infra/wiring.ts), schema migrations,
 * monitoring (constructs/monitoring.ts), triggers (infra/triggers.ts), outputs.
 *
 * Adding a function: add it to the topology (FunctionId, functions, and its schedule or event
 * source), then add its entry to FUNCTION_WIRING in infra/wiring.ts; the type of that table makes
 * the compiler ask for it. Adding a kind of event source or another door into the pipeline: one
 * more entry in TRIGGERS (infra/triggers.ts). Alarms and dashboard widgets follow from the
 * topology and the wiring.
 *
 * Every resource is created in the stack's own scope (not in a construct per part): a resource's
 * logical id and `aws:cdk:path` come from its construct path, so regrouping existing resources
 * would replace them on the next deploy. New parts may bring constructs of their own.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { topology as defaultTopology, type FunctionId, type QueueId, type Topology } from '#topology.js';
import { AlertTopic } from './constructs/alert-topic.js';
import { AwsDatabase, LocalStackDatabase, type PipelineDatabase } from './constructs/database.js';
import { Monitoring } from './constructs/monitoring.js';
import { PipelineFunction } from './constructs/pipeline-function.js';
import { type DatabaseUser, SchemaMigrations } from './constructs/schema-migrations.js';
import { deployedName, pascal } from './names.js';
import type { DeploymentSettings } from './settings.js';
import { TRIGGERS } from './triggers.js';
import {
  databaseUsername,
  FUNCTION_WIRING,
  type FunctionAccess,
  grantWiring,
  type WiringTargets,
  wiringEnvironment,
} from './wiring.js';

/** Repository root: entries in the topology are relative to it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

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
  readonly topology: Topology;
  readonly settings: DeploymentSettings;
  readonly stream: kinesis.Stream;
  readonly queues: Record<QueueId, sqs.Queue>;
  readonly deadLetterQueues: Record<QueueId, sqs.Queue>;
  readonly database: PipelineDatabase;
  readonly alerts: AlertTopic;
  readonly functions: Record<FunctionId, PipelineFunction>;
  readonly migrations: SchemaMigrations;
  readonly monitoring: Monitoring;
  private readonly projectRoot: string;
  private readonly bundleMetafile: boolean | undefined;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    this.topology = props.topology ?? defaultTopology;
    this.settings = props.settings;
    this.projectRoot = props.projectRoot ?? PROJECT_ROOT;
    this.bundleMetafile = props.bundleMetafile;

    this.stream = this.createStream();
    [this.queues, this.deadLetterQueues] = this.createQueues();
    this.database = this.createDatabase();
    this.alerts = this.createAlertTopic();
    const access = this.createDatabaseUsers();
    this.functions = this.createFunctions(access);
    this.migrations = this.createMigrations(access);
    this.monitoring = this.createMonitoring([this.alerts.topic, ...this.importAlarmTopic()]);
    this.connectTriggers();
    this.createOutputs();
  }

  private get functionIds(): FunctionId[] {
    return Object.keys(this.topology.functions) as FunctionId[];
  }

  private get wiringTargets(): WiringTargets {
    return {
      topology: this.topology,
      stream: this.stream,
      queues: this.queues,
      deadLetterQueues: this.deadLetterQueues,
      database: this.database,
      functionName: (fid) => deployedName(this, this.topology.functions[fid].name),
      alertTopic: this.alerts.topic,
    };
  }

  private createStream(): kinesis.Stream {
    const spec = this.topology.stream;
    return new kinesis.Stream(this, 'Stream', {
      streamName: spec.name,
      shardCount: spec.shardCount,
      retentionPeriod: Duration.hours(spec.retentionHours),
      // The AWS managed key: encryption at rest without per-request KMS charges for a customer key.
      encryption: kinesis.StreamEncryption.MANAGED,
      removalPolicy: this.settings.removalPolicy,
    });
  }

  /** Each topology queue with a redrive dead-letter queue of its own: [queues, dead-letter queues]. */
  private createQueues(): [Record<QueueId, sqs.Queue>, Record<QueueId, sqs.Queue>] {
    const queues = {} as Record<QueueId, sqs.Queue>;
    const dlqs = {} as Record<QueueId, sqs.Queue>;
    const common = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: this.settings.removalPolicy,
    };
    for (const [qid, spec] of Object.entries(this.topology.queues) as [QueueId, Topology['queues'][QueueId]][]) {
      dlqs[qid] = new sqs.Queue(this, `${pascal(qid)}DeadLetterQueue`, {
        queueName: spec.deadLetterQueueName,
        retentionPeriod: Duration.days(14),
        ...common,
      });
      queues[qid] = new sqs.Queue(this, `${pascal(qid)}Queue`, {
        queueName: spec.name,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        retentionPeriod: Duration.seconds(spec.retentionSeconds),
        deadLetterQueue: { queue: dlqs[qid], maxReceiveCount: spec.maxReceiveCount },
        ...common,
      });
    }
    return [queues, dlqs];
  }

  private createDatabase(): PipelineDatabase {
    const { target, database, removalPolicy, logRetentionDays } = this.settings;
    return target === 'aws'
      ? new AwsDatabase(this, 'Database', { settings: database, removalPolicy, logRetentionDays })
      : new LocalStackDatabase(this, 'Database');
  }

  /** The topic every alarm and every reading alert goes to (constructs/alert-topic.ts). */
  private createAlertTopic(): AlertTopic {
    const spec = this.topology.alertTopic;
    return new AlertTopic(this, 'Alerts', {
      topicName: deployedName(this, spec.name),
      displayName: spec.displayName,
      alertEmail: this.settings.alertEmail,
      removalPolicy: this.settings.removalPolicy,
    });
  }

  /** One login user per function whose wiring has a database role; then the database is final. */
  private createDatabaseUsers(): Map<FunctionId, FunctionAccess> {
    const access = new Map<FunctionId, FunctionAccess>();
    for (const fid of this.functionIds) {
      const wiring = FUNCTION_WIRING[fid];
      const userSecret = wiring.databaseRole
        ? this.database.addUser(pascal(fid), databaseUsername(fid, wiring.databaseRole))
        : undefined;
      access.set(fid, { wiring, userSecret });
    }
    this.database.finalize();
    return access;
  }

  private createFunctions(access: Map<FunctionId, FunctionAccess>): Record<FunctionId, PipelineFunction> {
    const functions = {} as Record<FunctionId, PipelineFunction>;
    for (const fid of this.functionIds) {
      const spec = this.topology.functions[fid];
      const fa = access.get(fid) ?? { wiring: FUNCTION_WIRING[fid] };
      // Only functions that reach the database need the VPC; the producer stays outside it.
      const inVpc = fa.userSecret !== undefined;
      const fn = new PipelineFunction(this, pascal(fid), {
        functionName: this.wiringTargets.functionName(fid),
        entry: path.join(this.projectRoot, spec.entry),
        description: spec.description,
        memoryMb: spec.memoryMb,
        timeoutSeconds: spec.timeoutSeconds,
        environment: wiringEnvironment(fa, this.wiringTargets),
        logRetentionDays: this.settings.logRetentionDays,
        removalPolicy: this.settings.removalPolicy,
        projectRoot: this.projectRoot,
        vpc: inVpc ? this.database.vpc : undefined,
        vpcSubnets: inVpc ? this.database.vpcSubnets : undefined,
        bundleMetafile: this.bundleMetafile,
        copyFolders: fa.wiring.copyFolders,
        generatedFolders: fa.wiring.generatedFolders,
      });
      grantWiring(fa, fn.function, this.wiringTargets);
      functions[fid] = fn;
    }
    return functions;
  }

  private createMigrations(access: Map<FunctionId, FunctionAccess>): SchemaMigrations {
    const users: DatabaseUser[] = [...access.values()].flatMap(({ wiring, userSecret }) =>
      userSecret && wiring.databaseRole ? [{ secret: userSecret, groupRole: wiring.databaseRole }] : [],
    );
    const migrations = new SchemaMigrations(this, 'Migrations', {
      functionName: deployedName(this, 'iot-migrations'),
      database: this.database,
      users,
      projectRoot: this.projectRoot,
      logRetentionDays: this.settings.logRetentionDays,
      removalPolicy: this.settings.removalPolicy,
      bundleMetafile: this.bundleMetafile,
    });
    // A rotation that runs before the migrations resource has created its user fails; Secrets
    // Manager rotates once as soon as a schedule exists, so schedules wait for the migrations.
    for (const c of this.node.findAll()) {
      if (c instanceof secretsmanager.CfnRotationSchedule) c.node.addDependency(migrations.resource);
    }
    return migrations;
  }

  /** Event sources, schedules and any other door: none starts before the schema and the users exist. */
  private connectTriggers(): void {
    const to = {
      scope: this,
      topology: this.topology,
      settings: this.settings,
      stream: this.stream,
      queues: this.queues,
      functions: this.functions,
      monitoring: this.monitoring,
    };
    const waiting = TRIGGERS.flatMap((trigger) => trigger(to));
    for (const fid of this.functionIds) {
      for (const child of this.functions[fid].function.node.findAll()) {
        if (child instanceof lambda.CfnEventSourceMapping) child.node.addDependency(this.migrations.resource);
      }
    }
    for (const c of waiting) c.node.addDependency(this.migrations.resource);
  }

  /** The operator's own SNS topic the alarms also notify, when the deployment names one. */
  private importAlarmTopic(): sns.ITopic[] {
    const arn = this.settings.alarmTopicArn;
    return arn ? [sns.Topic.fromTopicArn(this, 'AlarmTopic', arn)] : [];
  }

  private createMonitoring(alarmTopics: sns.ITopic[]): Monitoring {
    const { topology, functions, queues } = this;
    const named = <T>(entries: [string, T][], suffix: string) =>
      Object.fromEntries(entries.map(([qid, q]) => [`${qid}${suffix}`, q]));
    return new Monitoring(this, 'Monitoring', {
      dashboardName: deployedName(this, 'pipeline'),
      stream: this.stream,
      streamConsumer: functions[topology.kinesisSources[0]?.function ?? 'validator'].function,
      functions: Object.fromEntries(this.functionIds.map((fid) => [fid, functions[fid].function])),
      deadLetterQueues: named(Object.entries(this.deadLetterQueues), 'Dlq'),
      onFailureQueues: named(
        topology.kinesisSources.map((s) => [s.onFailure, queues[s.onFailure]]),
        'Queue',
      ),
      queues: named(Object.entries(queues), 'Queue'),
      metricAlarms: this.functionIds.flatMap((fid) => FUNCTION_WIRING[fid].metricAlarms ?? []),
      heartbeatAlarms: this.functionIds.flatMap((fid) => FUNCTION_WIRING[fid].heartbeatAlarms ?? []),
      ratioAlarms: this.functionIds.flatMap((fid) => {
        const spec = FUNCTION_WIRING[fid].rejectionRateAlarm;
        return spec ? [{ ...spec, threshold: this.settings.rejectionRateAlarm }] : [];
      }),
      alarmTopics,
    });
  }

  private createOutputs(): void {
    new CfnOutput(this, 'StreamName', { value: this.stream.streamName });
    for (const fid of this.functionIds) {
      new CfnOutput(this, `${pascal(fid)}FunctionName`, { value: this.functions[fid].function.functionName });
    }
    new CfnOutput(this, 'DatabaseAdminSecretArn', {
      value: this.database.adminSecret.secretArn,
      description: 'ARN only; read the value with secretsmanager get-secret-value when you need to connect',
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'AlertTopicArn', {
      value: this.alerts.topic.topicArn,
      description: 'Every alarm and reading alert; subscribe with -c alertEmail=... or aws sns subscribe',
    });
  }
}
