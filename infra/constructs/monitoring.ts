/**
 * Alarms and a dashboard for the signals an operator of this pipeline acts on:
 * - lag: the validator's iterator age (records waiting in the stream grow older);
 * - loss risk: any message in a dead-letter queue, or in the failures queue (a batch the
 *   validator gave up on), means a record needs a human;
 * - health: errors and throttles of every function.
 * The dashboard adds throughput and duration, to see load and headroom.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '#observability/telemetry.js';

/** Iterator age above this for 5 minutes: the validator is falling behind the producers. */
export const ITERATOR_AGE_ALARM_MS = 5 * 60_000;

export interface MonitoringProps {
  readonly dashboardName: string;
  readonly stream: kinesis.IStream;
  /** The function consuming the stream (its IteratorAge metric is the lag). */
  readonly streamConsumer: lambda.IFunction;
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Dead-letter queues: any message in one is a record that needs a human. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /**
   * The stream's on-failure queues: the drainer empties them within seconds, so their depth says
   * little; any message sent to one means the validator gave up on a batch, which is the alarm.
   */
  readonly onFailureQueues: Readonly<Record<string, sqs.IQueue>>;
  /** Working queues, for depth and age on the dashboard. */
  readonly queues: Readonly<Record<string, sqs.IQueue>>;
  /** Alarms on the pipeline's own metrics (Powertools EMF, namespace IoTFirst): any non-zero sum alarms. */
  readonly metricAlarms?: readonly {
    readonly service: string;
    readonly metric: string;
    readonly description: string;
  }[];
  readonly alarmTopicArn?: string | undefined;
}

export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(1);
    const topic = props.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : undefined;
    const alarm = (
      alarmId: string,
      description: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      evaluationPeriods = 1,
    ) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No data means no traffic (or an empty queue), which is not a failure.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (topic) {
        a.addAlarmAction(new actions.SnsAction(topic));
        a.addOkAction(new actions.SnsAction(topic));
      }
      this.alarms.push(a);
      return a;
    };

    const iteratorAge = props.streamConsumer.metric('IteratorAge', { statistic: 'Maximum', period });
    alarm(
      'IteratorAge',
      'Validator lag: the oldest unprocessed stream record is over 5 minutes old',
      iteratorAge,
      ITERATOR_AGE_ALARM_MS,
      5,
    );

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Depth`,
        `${queue.node.id}: messages waiting; each is a record or batch that needs a human`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period }),
        1,
      );
    }
    for (const [name, queue] of Object.entries(props.onFailureQueues)) {
      alarm(
        `${name}GivenUp`,
        `${queue.node.id}: the stream's event source gave up on a batch (retries or record age exhausted)`,
        queue.metricNumberOfMessagesSent({ statistic: 'Sum', period: Duration.minutes(5) }),
        1,
      );
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(
        `${name}Errors`,
        `${name}: invocations failed`,
        fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
        1,
      );
      alarm(
        `${name}Throttles`,
        `${name}: invocations throttled`,
        fn.metricThrottles({ statistic: 'Sum', period: Duration.minutes(5) }),
        1,
      );
    }

    for (const m of props.metricAlarms ?? []) {
      alarm(
        `${m.service}${m.metric}`,
        m.description,
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: m.metric,
          dimensionsMap: { service: m.service },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        1,
      );
    }

    const fns = Object.entries(props.functions);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Throughput: records into the stream, invocations',
        left: [props.stream.metricIncomingRecords({ statistic: 'Sum', period })],
        right: fns.map(([name, fn]) => fn.metricInvocations({ label: name, statistic: 'Sum', period })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lag: validator iterator age (ms)',
        left: [iteratorAge],
        leftAnnotations: [{ value: ITERATOR_AGE_ALARM_MS, label: 'alarm' }],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Errors and throttles',
        left: fns.map(([name, fn]) => fn.metricErrors({ label: `${name} errors`, statistic: 'Sum', period })),
        right: fns.map(([name, fn]) => fn.metricThrottles({ label: `${name} throttles`, statistic: 'Sum', period })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queues: visible messages',
        left: Object.entries({ ...props.queues, ...props.deadLetterQueues }).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ label: name, statistic: 'Maximum', period }),
        ),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Duration p50 / p99 (ms)',
        left: fns.map(([name, fn]) => fn.metricDuration({ label: `${name} p50`, statistic: 'p50', period })),
        right: fns.map(([name, fn]) => fn.metricDuration({ label: `${name} p99`, statistic: 'p99', period })),
        width: 24,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
  }
}
