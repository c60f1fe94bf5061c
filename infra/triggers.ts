/**
 * What starts the functions: the topology's Kinesis and SQS event sources and its schedules.
 *
 * Each kind is one {@link Trigger} in {@link TRIGGERS}; a new door (a Kafka event source, an IoT
 * topic rule, an API in front of a function) is one more entry, reading its own topology section.
 * Everything a trigger creates starts only once the schema exists: the stack makes every event
 * source mapping of every function, and whatever a trigger returns, wait for the migrations.
 */
import { CfnOutput, Duration, type Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { type FunctionId, type QueueId, rateExpression, type Topology } from '#topology.js';
import { KafkaBridgeSource, kafkaSourceFromContext } from './constructs/kafka-source.js';
import type { Monitoring } from './constructs/monitoring.js';
import type { PipelineFunction } from './constructs/pipeline-function.js';
import { QueryApi } from './constructs/query-api.js';
import { iotDoor } from './iot-door.js';
import { LOCALSTACK } from './localstack.js';
import { deployedName, pascal } from './names.js';
import type { DeploymentSettings } from './settings.js';

/** What a trigger may connect: the stack's shared resources and its functions. */
export interface TriggerTargets {
  /** Scope for constructs a trigger creates (the stack itself, so their logical ids stay short). */
  readonly scope: Stack;
  readonly topology: Topology;
  /** Deployment settings, for a door that only exists when configured (say, a Kafka cluster). */
  readonly settings: DeploymentSettings;
  readonly stream: kinesis.IStream;
  readonly queues: Readonly<Record<QueueId, sqs.IQueue>>;
  readonly functions: Readonly<Record<FunctionId, PipelineFunction>>;
  /** For a door's own alarms (Monitoring.addAlarm); they notify the same topic and show on the dashboard. */
  readonly monitoring: Monitoring;
}

/**
 * Connects one kind of source to the functions. Returns the constructs that must wait for the
 * schema besides event source mappings (which the stack finds by itself).
 */
export type Trigger = (to: TriggerTargets) => readonly IConstruct[];

const kinesisSources: Trigger = ({ topology, stream, queues, functions }) => {
  for (const src of topology.kinesisSources) {
    functions[src.function].function.addEventSource(
      new sources.KinesisEventSource(stream, {
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
  return [];
};

const sqsSources: Trigger = ({ topology, queues, functions }) => {
  for (const src of topology.sqsSources) {
    functions[src.function].function.addEventSource(
      new sources.SqsEventSource(queues[src.queue], {
        batchSize: src.batchSize,
        maxBatchingWindow: Duration.seconds(src.maxBatchingWindowSeconds),
        reportBatchItemFailures: src.reportBatchItemFailures,
      }),
    );
  }
  return [];
};

const schedules: Trigger = ({ scope, topology, functions }) =>
  topology.schedules.map(
    (schedule, index) =>
      new events.Rule(scope, `${pascal(schedule.function)}Schedule${index === 0 ? '' : index}`, {
        schedule: events.Schedule.expression(rateExpression(schedule)),
        description: schedule.description,
        targets: [new targets.LambdaFunction(functions[schedule.function].function)],
      }),
  );

/** The Kafka door: only when the deployment names a cluster (see constructs/kafka-source.ts). */
const kafkaSources: Trigger = ({ scope, topology, queues, functions }) => {
  const deployment = kafkaSourceFromContext(scope.node);
  if (!deployment) return [];
  return topology.kafkaSources.map(
    (src, index) =>
      new KafkaBridgeSource(scope, `KafkaSource${index === 0 ? '' : index}`, {
        deployment,
        spec: src,
        target: functions[src.function].function,
        onFailure: queues[src.onFailure],
      }),
  );
};

/**
 * The query API door: a REST API in front of each HTTP function (constructs/query-api.ts), its
 * URL as a stack output. The API Gateway deployment waits for the schema: the first request may
 * come as soon as the stage exists.
 */
const httpApis: Trigger = ({ scope, topology, settings, functions, monitoring }) =>
  topology.httpApis.map((spec, index) => {
    const suffix = index === 0 ? '' : String(index);
    const api = new QueryApi(scope, `QueryApi${suffix}`, {
      restApiName: deployedName(scope, spec.name),
      stageName: spec.stageName,
      handler: functions[spec.function].function,
      throttleRateLimit: settings.api.throttleRateLimit,
      throttleBurstLimit: settings.api.throttleBurstLimit,
      accountLogRole: settings.api.accountLogRole,
      logRetentionDays: settings.logRetentionDays,
      removalPolicy: settings.removalPolicy,
    });
    watchApi(monitoring, api, spec.name, suffix);
    new CfnOutput(scope, `ApiUrl${suffix}`, {
      value: settings.target === 'localstack' ? LOCALSTACK.apiUrl(api.api.restApiId, spec.stageName) : api.url,
      description: 'Query API and dashboard (append api/openapi.json for the API description); bearer token required',
    });
    return api.api.deploymentStage;
  });

/**
 * The API's own signals: 5xx answers alarm (a function error, the 29 s integration timeout, an
 * integration API Gateway could not call; 4xx are the callers' and 429 the throttle doing its
 * job), and a dashboard row with requests, errors and latency.
 */
function watchApi(monitoring: Monitoring, api: QueryApi, name: string, suffix: string): void {
  const period = Duration.minutes(5);
  monitoring.addAlarm(`QueryApi${suffix}ServerErrors`, {
    description: `${name}: API Gateway answered 5xx (function error, 29 s timeout or failed integration)`,
    metric: api.api.metricServerError({ statistic: 'Sum', period }),
    threshold: 1,
  });
  const minute = Duration.minutes(1);
  monitoring.dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: `Query API ${name}: requests, 4xx, 5xx`,
      left: [
        api.api.metricCount({ statistic: 'Sum', period: minute, label: 'requests' }),
        api.api.metricClientError({ statistic: 'Sum', period: minute, label: '4xx (429 included)' }),
        api.api.metricServerError({ statistic: 'Sum', period: minute, label: '5xx' }),
      ],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: `Query API ${name}: latency p50 / p99 (ms)`,
      left: [
        api.api.metricLatency({ statistic: 'p50', period: minute, label: 'p50' }),
        api.api.metricLatency({ statistic: 'p99', period: minute, label: 'p99' }),
      ],
      width: 12,
    }),
  );
}

/** Every kind of trigger the stack creates, in order. */
export const TRIGGERS: readonly Trigger[] = [kinesisSources, sqsSources, kafkaSources, schedules, iotDoor, httpApis];
