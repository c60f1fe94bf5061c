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
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '#observability/telemetry.js';

/** Iterator age above this for 5 minutes: the validator is falling behind the producers. */
const ITERATOR_AGE_ALARM_MS = 5 * 60_000;

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
  readonly metricAlarms?: readonly MetricAlarmSpec[];
  /** Alarms on a function that must succeed on a schedule: no success within the window alarms. */
  readonly heartbeatAlarms?: readonly HeartbeatAlarmSpec[];
  /** Alarms on the share of one of the pipeline's counts in another (e.g. rejected ÷ received). */
  readonly ratioAlarms?: readonly RatioAlarmSpec[];
  /** Topics every alarm notifies on alarm and on recovery (the stack's alert topic, maybe an operator's). */
  readonly alarmTopics: readonly sns.ITopic[];
}

/**
 * "Stopped": a metric the function emits on every successful run (namespace IoTFirst) has no
 * sample for `withinMinutes`. Missing data is breaching: a function that stopped emits nothing.
 */
export interface HeartbeatAlarmSpec {
  readonly service: string;
  readonly metric: string;
  readonly withinMinutes: number;
  readonly description: string;
}

/** `part` ÷ `whole` (both Count metrics of `service`) summed over 5 minutes, at or above `threshold`. */
export interface RatioAlarmSpec {
  readonly service: string;
  readonly part: string;
  readonly whole: string;
  readonly threshold: number;
  readonly description: string;
}

/** An alarm on one of the pipeline's own metrics: any non-zero sum over 5 minutes alarms. */
export interface MetricAlarmSpec {
  readonly service: string;
  readonly metric: string;
  readonly description: string;
}

/** One alarm: fires when `metric` reaches `threshold` for `evaluationPeriods` periods. */
export interface AlarmSpec {
  readonly description: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly evaluationPeriods?: number;
  /** Defaults to not breaching: no data means no traffic (or an empty queue), which is not a failure. */
  readonly treatMissingData?: cloudwatch.TreatMissingData;
  /** Defaults to at or above the threshold. */
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
}

const PERIOD = Duration.minutes(1);

/** One of the pipeline's own metrics (Powertools EMF: namespace IoTFirst, dimension service). */
function pipelineMetric(service: string, metric: string, statistic: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: metric,
    dimensionsMap: { service },
    statistic,
    period,
  });
}
/** Counts (errors, messages sent, failed checks) are summed over 5 minutes: one is enough to alarm. */
const COUNT_PERIOD = Duration.minutes(5);

export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  private readonly topics: readonly sns.ITopic[];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topics = props.alarmTopics;
    const iteratorAge = props.streamConsumer.metric('IteratorAge', { statistic: 'Maximum', period: PERIOD });
    this.addAlarm('IteratorAge', {
      description: 'Validator lag: the oldest unprocessed stream record is over 5 minutes old',
      metric: iteratorAge,
      threshold: ITERATOR_AGE_ALARM_MS,
      evaluationPeriods: 5,
    });
    this.alarmOnQueues(props);
    this.alarmOnFunctions(props.functions);
    for (const m of props.metricAlarms ?? []) this.alarmOnPipelineMetric(m);
    for (const h of props.heartbeatAlarms ?? []) this.alarmOnHeartbeat(h);
    for (const r of props.ratioAlarms ?? []) this.alarmOnRatio(r);
    this.dashboard = this.createDashboard(props, iteratorAge);
  }

  /**
   * Adds an alarm that notifies the alarm topics and shows on the dashboard's alarm widget; for
   * parts of the stack that bring signals of their own.
   */
  addAlarm(alarmId: string, spec: AlarmSpec): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, alarmId, {
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      evaluationPeriods: spec.evaluationPeriods ?? 1,
      comparisonOperator: spec.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: spec.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const topic of this.topics) {
      alarm.addAlarmAction(new actions.SnsAction(topic));
      alarm.addOkAction(new actions.SnsAction(topic));
    }
    this.alarms.push(alarm);
    return alarm;
  }

  private alarmOnQueues(props: MonitoringProps): void {
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.addAlarm(`${name}Depth`, {
        description: `${queue.node.id}: messages waiting; each is a record or batch that needs a human`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: PERIOD }),
        threshold: 1,
      });
    }
    for (const [name, queue] of Object.entries(props.onFailureQueues)) {
      this.addAlarm(`${name}GivenUp`, {
        description: `${queue.node.id}: the stream's event source gave up on a batch (retries or record age exhausted)`,
        metric: queue.metricNumberOfMessagesSent({ statistic: 'Sum', period: COUNT_PERIOD }),
        threshold: 1,
      });
    }
  }

  private alarmOnFunctions(functions: Readonly<Record<string, lambda.IFunction>>): void {
    for (const [name, fn] of Object.entries(functions)) {
      this.addAlarm(`${name}Errors`, {
        description: `${name}: invocations failed`,
        metric: fn.metricErrors({ statistic: 'Sum', period: COUNT_PERIOD }),
        threshold: 1,
      });
      this.addAlarm(`${name}Throttles`, {
        description: `${name}: invocations throttled`,
        metric: fn.metricThrottles({ statistic: 'Sum', period: COUNT_PERIOD }),
        threshold: 1,
      });
    }
  }

  private alarmOnPipelineMetric(m: MetricAlarmSpec): void {
    this.addAlarm(`${m.service}${m.metric}`, {
      description: m.description,
      metric: pipelineMetric(m.service, m.metric, 'Sum', COUNT_PERIOD),
      threshold: 1,
    });
  }

  private alarmOnHeartbeat(h: HeartbeatAlarmSpec): void {
    this.addAlarm(`${h.service}Stopped`, {
      description: h.description,
      metric: pipelineMetric(h.service, h.metric, 'SampleCount', Duration.minutes(h.withinMinutes)),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  private alarmOnRatio(r: RatioAlarmSpec): void {
    this.addAlarm(`${r.service}${r.part}Rate`, {
      description: r.description,
      metric: new cloudwatch.MathExpression({
        // No records received: no rate, and no data is not breaching (an idle pipeline is fine).
        expression: 'IF(whole > 0, part / whole, 0)',
        usingMetrics: {
          part: pipelineMetric(r.service, r.part, 'Sum', COUNT_PERIOD),
          whole: pipelineMetric(r.service, r.whole, 'Sum', COUNT_PERIOD),
        },
        period: COUNT_PERIOD,
        label: `${r.part} / ${r.whole}`,
      }),
      threshold: r.threshold,
    });
  }

  /** Throughput and lag, errors and queue depths, durations and alarm states: three rows. */
  private createDashboard(props: MonitoringProps, iteratorAge: cloudwatch.IMetric): cloudwatch.Dashboard {
    const period = PERIOD;
    const fns = Object.entries(props.functions);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
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
    dashboard.addWidgets(
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
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Duration p50 / p99 (ms)',
        left: fns.map(([name, fn]) => fn.metricDuration({ label: `${name} p50`, statistic: 'p50', period })),
        right: fns.map(([name, fn]) => fn.metricDuration({ label: `${name} p99`, statistic: 'p99', period })),
        width: 24,
      }),
      // The widget reads `this.alarms` when the template is rendered, so alarms added later show too.
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
    return dashboard;
  }
}
