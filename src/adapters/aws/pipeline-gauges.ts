/**
 * The health gauges on AWS (src/domain/query-ports.ts `PipelineGauges`): queue depths from SQS
 * `GetQueueAttributes`, the shard list from Kinesis `ListShards`, and the validator's iterator age
 * from CloudWatch (`AWS/Lambda` `IteratorAge`, the age of the last record of each batch the event
 * source mapping delivered). AWS reports the iterator age per function, not per shard (per-shard
 * figures need Kinesis enhanced shard-level metrics, which the stack does not pay for), so each
 * shard's own lag is null here and the stream's iterator age carries the figure.
 */
import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { type KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PipelineGauges, QueueGauge, ShardGauge, StreamGauge } from '#domain/query-ports.js';

export interface AwsGaugeSources {
  readonly streamName?: string | undefined;
  /** The function the Kinesis event source mapping invokes (its `IteratorAge`). */
  readonly validatorFunctionName?: string | undefined;
  readonly queues: readonly { readonly url: string; readonly dlq: boolean }[];
}

export interface AwsGaugeClients {
  readonly sqs?: SQSClient | undefined;
  readonly kinesis?: KinesisClient | undefined;
  readonly cloudWatch?: CloudWatchClient | undefined;
}

/**
 * How far back the iterator age is looked for: Lambda publishes it once a minute per function
 * while batches flow; the newest minute with a datapoint is the figure.
 */
const ITERATOR_AGE_LOOKBACK_MS = 5 * 60_000;

/** A queue's name is the last segment of its URL (`…/123456789012/iot-sensor-errors`). */
export function queueNameOf(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

export class AwsPipelineGauges implements PipelineGauges {
  constructor(
    private readonly sources: AwsGaugeSources,
    private readonly clients: AwsGaugeClients,
    private readonly clock: () => number = Date.now,
  ) {}

  async queues(): Promise<QueueGauge[] | null> {
    const sqs = this.clients.sqs;
    if (!sqs || this.sources.queues.length === 0) return null;
    return Promise.all(
      this.sources.queues.map(async ({ url, dlq }) => {
        const out = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        const a = out.Attributes ?? {};
        return {
          name: queueNameOf(url),
          visible: Number(a.ApproximateNumberOfMessages ?? 0),
          inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
          dlq,
        };
      }),
    );
  }

  async stream(): Promise<StreamGauge | null> {
    const canList = Boolean(this.clients.kinesis && this.sources.streamName);
    const canAge = Boolean(this.clients.cloudWatch && this.sources.validatorFunctionName);
    if (!canList && !canAge) return null;
    const [shards, iteratorAgeMs] = await Promise.all([
      canList ? this.shards() : Promise.resolve([]),
      canAge ? this.iteratorAge() : Promise.resolve(null),
    ]);
    return { iteratorAgeMs, shards };
  }

  private async shards(): Promise<ShardGauge[]> {
    const kinesis = this.clients.kinesis as KinesisClient;
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const out = await kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.sources.streamName }),
      );
      // Open shards only: a shard closed by a reshard has an ending sequence number and no new records.
      for (const shard of out.Shards ?? [])
        if (shard.ShardId && !shard.SequenceNumberRange?.EndingSequenceNumber) ids.push(shard.ShardId);
      token = out.NextToken;
    } while (token);
    return ids.map((shardId) => ({ shardId, lagMs: null, pending: null }));
  }

  /** The newest minute's maximum `IteratorAge`, or null when no batch was delivered lately. */
  private async iteratorAge(): Promise<number | null> {
    const now = this.clock();
    const out = await (this.clients.cloudWatch as CloudWatchClient).send(
      new GetMetricDataCommand({
        StartTime: new Date(now - ITERATOR_AGE_LOOKBACK_MS),
        EndTime: new Date(now),
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [
          {
            Id: 'iteratorAge',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/Lambda',
                MetricName: 'IteratorAge',
                Dimensions: [{ Name: 'FunctionName', Value: this.sources.validatorFunctionName }],
              },
              Period: 60,
              Stat: 'Maximum',
              Unit: 'Milliseconds',
            },
          },
        ],
      }),
    );
    const result = out.MetricDataResults?.find((r) => r.Id === 'iteratorAge');
    const newest = result?.Values?.[0];
    return newest === undefined ? null : newest;
  }
}
