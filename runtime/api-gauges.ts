/**
 * The health gauges of the local stack (src/domain/query-ports.ts `PipelineGauges`), from the
 * host's own figures, the way `GET /api/health` reports them on AWS from CloudWatch and SQS:
 *
 * - per shard, the lag of the validator's event source: where its checkpoint stands (the host's
 *   position, or the stream's start when nothing is acknowledged yet) against the stream's tip.
 *   The records after the checkpoint are read once (GetRecords on an iterator of our own, which
 *   leaves the source's iterator alone); the lag is the age of the first of them (0 when there is
 *   none), the pending count their number, up to PENDING_COUNT_CAP. Records in flight in the
 *   validator count as pending: they are not acknowledged yet. With the Kafka door on, its
 *   partitions follow, with the consumer group's lag in records (Kafka offsets carry no time).
 * - queue depths of the errors and failures queues and their dead-letter queues, from fauxqs's
 *   GetQueueAttributes, as the AWS adapter reads SQS.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { AwsPipelineGauges } from '#adapters/aws/pipeline-gauges.js';
import {
  PENDING_COUNT_CAP,
  type PipelineGauges,
  type QueueGauge,
  type ShardGauge,
  type StreamGauge,
} from '#domain/query-ports.js';
import type { KinesisSourceSpec, QueueId, Topology } from '#topology.js';
import type { ShardStatus } from './host/event-source.js';
import type { ServiceContext } from './service.js';

export interface LocalGaugeParts {
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly topology: Topology;
  /** The host's shard positions (the validator's Kinesis source; empty when it is switched off). */
  readonly positions: () => readonly ShardStatus[];
  /** URLs of the working queues; their dead-letter queues are looked up by name. */
  readonly queueUrls: Readonly<Record<QueueId, string>>;
  /** Positions of other consumers (the Kafka door's partitions), listed after the Kinesis shards. */
  readonly otherShards?: () => readonly ShardGauge[];
  readonly clock?: () => number;
}

export class LocalPipelineGauges implements PipelineGauges {
  private readonly clock: () => number;
  private queueGauges: Promise<AwsPipelineGauges> | undefined;

  constructor(private readonly parts: LocalGaugeParts) {
    this.clock = parts.clock ?? Date.now;
  }

  async queues(): Promise<QueueGauge[] | null> {
    this.queueGauges ??= this.sqsGauges();
    this.queueGauges.catch(() => {
      this.queueGauges = undefined; // a queue not there yet: look again next time
    });
    return (await this.queueGauges).queues();
  }

  async stream(): Promise<StreamGauge | null> {
    const positions = new Map(this.parts.positions().map((p) => [p.shardId, p]));
    const kinesis = await Promise.all((await this.openShards()).map((id) => this.shard(id, positions.get(id))));
    const shards = [...kinesis, ...(this.parts.otherShards?.() ?? [])];
    const lags = shards.flatMap((s) => (s.lagMs === null ? [] : [s.lagMs]));
    return { iteratorAgeMs: lags.length > 0 ? Math.max(...lags) : null, shards };
  }

  /** The same SQS reads as on AWS, over the four local queues. */
  private async sqsGauges(): Promise<AwsPipelineGauges> {
    const { sqs, topology, queueUrls } = this.parts;
    const ids = Object.keys(topology.queues) as QueueId[];
    const dlqUrls = await Promise.all(
      ids.map(async (id) => {
        const out = await sqs.send(new GetQueueUrlCommand({ QueueName: topology.queues[id].deadLetterQueueName }));
        if (!out.QueueUrl) throw new Error(`no URL for ${topology.queues[id].deadLetterQueueName}`);
        return out.QueueUrl;
      }),
    );
    const queues = [
      ...ids.map((id) => ({ url: queueUrls[id], dlq: false })),
      ...dlqUrls.map((url) => ({ url, dlq: true })),
    ];
    return new AwsPipelineGauges({ queues }, { sqs });
  }

  private async openShards(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.parts.kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.parts.topology.stream.name }),
      );
      for (const s of out.Shards ?? [])
        if (s.ShardId && !s.SequenceNumberRange?.EndingSequenceNumber) ids.push(s.ShardId);
      token = out.NextToken;
    } while (token);
    return ids;
  }

  /** One shard: the records after the consumer's checkpoint, read on an iterator of our own. */
  private async shard(shardId: string, position: ShardStatus | undefined): Promise<ShardGauge> {
    const checkpoint = position?.checkpoint;
    const spec: KinesisSourceSpec | undefined = this.parts.topology.kinesisSources[0];
    const startsAtTip = spec?.startingPosition === 'LATEST';
    if (checkpoint === undefined && startsAtTip) {
      // Nothing acknowledged and no fixed start: only the source knows where it began.
      return position
        ? { shardId, lagMs: position.millisBehindLatest, pending: position.outstanding }
        : { shardId, lagMs: null, pending: null };
    }
    const StreamName = this.parts.topology.stream.name;
    const from: GetShardIteratorCommandInput =
      checkpoint === undefined
        ? { StreamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }
        : {
            StreamName,
            ShardId: shardId,
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
            StartingSequenceNumber: checkpoint,
          };
    const { ShardIterator } = await this.parts.kinesis.send(new GetShardIteratorCommand(from));
    if (!ShardIterator) return { shardId, lagMs: null, pending: null };
    const out = await this.parts.kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: PENDING_COUNT_CAP }));
    const records = out.Records ?? [];
    const oldest = records[0]?.ApproximateArrivalTimestamp?.getTime();
    const lagMs = oldest === undefined ? (out.MillisBehindLatest ?? 0) : Math.max(0, this.clock() - oldest);
    return { shardId, lagMs, pending: records.length };
  }
}

/** The gauges of a running stack, for the API door (runtime/api-service.ts). */
export function localGauges(context: ServiceContext): LocalPipelineGauges {
  return new LocalPipelineGauges({
    kinesis: context.kinesis,
    sqs: context.sqs,
    topology: context.topology,
    positions: () => context.host.status().shards,
    queueUrls: { errors: context.endpoints.errorsQueueUrl, failures: context.endpoints.failuresQueueUrl },
    otherShards: () => (context.services?.() ?? []).flatMap((door) => door.shardGauges?.() ?? []),
  });
}
