/**
 * The Kinesis event source mapping of the embedded host: the I/O around kinesis-policy.ts,
 * which decides (and documents) AWS's semantics: lanes per partition key, batch size, record
 * age, partial batch responses, bisect on error, retry limits. This module polls every shard
 * (GetRecords), batches a lane's records up to `batchSize` or until the batching window since
 * the oldest waiting record has passed, and hands each batch to the stream driver
 * (batch-driver.ts), which invokes and carries out the policy's decision. Records given up on
 * are acknowledged only after a notice naming their shard and sequence range is durable in the
 * on-failure queue; checkpoints are durable (checkpoints.ts) and only cover a fully
 * acknowledged prefix (shard-tracker.ts).
 *
 * Stopping: no new batches start, retries in progress are abandoned (their records are not
 * acknowledged, so they are delivered again after a restart), batches in flight finish.
 */
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { exponentialDelayMs, sleep } from '#adapters/retry.js';
import type { StreamRecord } from '#domain/stream.js';
import type { KinesisSourceSpec } from '#topology.js';
import { type BatchSource, deliver, deliveryStats, Stopped } from './batch-driver.js';
import type { CheckpointKey, CheckpointStore } from './checkpoints.js';
import type { EventSource, EventSourceContext, EventSourceKind, Invoker, ShardStatus } from './event-source.js';
import { kinesisEvent, kinesisFailureNotice } from './events.js';
import { batchLength, defaultRetryDelayMs, laneFor } from './kinesis-policy.js';
import { ShardTracker } from './shard-tracker.js';

export interface KinesisSourceOptions {
  readonly spec: KinesisSourceSpec;
  readonly streamName: string;
  readonly region: string;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly onFailureQueueUrl: string;
  readonly target: Invoker;
  readonly checkpoints: CheckpointStore;
  /** Pause after an empty GetRecords (AWS polls each shard about once a second). */
  readonly pollIntervalMs?: number;
  /** Delay before retry `attempt` (1-based); exponential by default, like Lambda's. */
  readonly retryDelayMs?: (attempt: number) => number;
  readonly log?: (message: string) => void;
}

/** Delays between the (at most 5) tries of one checkpoint write. */
const CHECKPOINT_RETRY = { baseMs: 200, maxMs: 1_600 } as const;

export class KinesisEventSource implements EventSource {
  readonly kind = 'kinesis';
  readonly intake = true;
  readonly stats = deliveryStats();
  private readonly shards = new Map<string, ShardPoller>();
  private stopping = false;
  private streamCreatedAt = '';

  constructor(readonly options: KinesisSourceOptions) {}

  async start(): Promise<void> {
    const { kinesis, streamName } = this.options;
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    this.streamCreatedAt = summary.StreamDescriptionSummary?.StreamCreationTimestamp?.toISOString() ?? 'unknown';
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const out = await kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }));
      shards.push(...(out.Shards ?? []));
      token = out.NextToken;
    } while (token);
    for (const shard of shards) {
      if (!shard.ShardId) continue;
      const poller = new ShardPoller(this, shard.ShardId);
      this.shards.set(shard.ShardId, poller);
      await poller.start();
    }
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  checkpointKey(shardId: string): CheckpointKey {
    return {
      streamName: this.options.streamName,
      streamCreatedAt: this.streamCreatedAt,
      shardId,
      functionName: this.options.target.functionName,
    };
  }

  positions(): ShardStatus[] {
    return [...this.shards.values()].map((p) => p.status());
  }

  /** Stops polling, lets in-flight batches finish and writes the last checkpoints. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.shards.values()].map((p) => p.stop()));
  }
}

interface Waiting {
  readonly record: StreamRecord;
  readonly enqueuedAt: number;
}

class Lane {
  readonly queue: Waiting[] = [];
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly shard: ShardPoller) {}

  push(record: StreamRecord): void {
    this.queue.push({ record, enqueuedAt: Date.now() });
  }

  kick(): void {
    this.wake?.();
  }

  start(): void {
    this.running = this.loop();
  }

  async finished(): Promise<void> {
    this.kick();
    await this.running;
  }

  private async waitOrKick(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    const { spec } = this.shard.source.options;
    const windowMs = spec.maxBatchingWindowSeconds * 1000;
    while (!this.shard.source.isStopping) {
      const first = this.queue[0];
      if (!first) {
        await this.waitOrKick(1_000);
        continue;
      }
      const waited = Date.now() - first.enqueuedAt;
      if (this.queue.length < spec.batchSize && waited < windowMs) {
        await this.waitOrKick(windowMs - waited);
        continue;
      }
      const batch = this.queue
        .splice(
          0,
          batchLength(
            this.queue.map((w) => w.record),
            spec.batchSize,
          ),
        )
        .map((w) => w.record);
      try {
        await deliver(this.shard.delivery, batch);
      } catch (error) {
        if (!(error instanceof Stopped)) throw error;
      }
    }
  }
}

class ShardPoller {
  private readonly tracker = new ShardTracker();
  private readonly lanes: Lane[];
  /** This shard as the stream driver sees it: its records are acknowledged into its checkpoint. */
  readonly delivery: BatchSource<StreamRecord>;
  private iterator: string | undefined;
  private lastFetched: string | undefined;
  private checkpoint: string | undefined;
  private millisBehind = 0;
  private fetching: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly source: KinesisEventSource,
    readonly shardId: string,
  ) {
    this.lanes = Array.from({ length: Math.max(1, source.options.spec.parallelizationFactor) }, () => new Lane(this));
    this.delivery = this.deliverySource();
  }

  private deliverySource(): BatchSource<StreamRecord> {
    const { spec, target, region, streamName, sqs, onFailureQueueUrl, retryDelayMs, log } = this.source.options;
    return {
      kind: 'kinesis',
      policy: spec,
      stats: this.source.stats,
      functionArn: target.functionArn,
      onFailure: { sqs, queueUrl: onFailureQueueUrl },
      retryDelayMs: retryDelayMs ?? defaultRetryDelayMs,
      log: (message) => log?.(message),
      stopping: () => this.source.isStopping,
      itemIdentifier: (record) => record.sequenceNumber,
      arrivalMs: (record) => record.approximateArrivalMs,
      invoke: (records) =>
        target.invoke(kinesisEvent(records, { region, streamName, functionName: target.functionName })),
      acknowledge: (records) => this.acknowledge(records),
      failureNotice: (records, failure) => kinesisFailureNotice({ records, ...failure, region, streamName }),
      where: (records) => `of ${records[0]?.shardId}`,
    };
  }

  status(): ShardStatus {
    return {
      shardId: this.shardId,
      millisBehindLatest: this.millisBehind,
      outstanding: this.tracker.outstanding,
      checkpoint: this.checkpoint,
    };
  }

  async start(): Promise<void> {
    this.checkpoint = await this.source.options.checkpoints.load(this.source.checkpointKey(this.shardId));
    this.iterator = await this.newIterator(this.checkpoint);
    for (const lane of this.lanes) lane.start();
    this.fetching = this.fetchLoop();
  }

  async stop(): Promise<void> {
    await this.fetching;
    await Promise.all(this.lanes.map((l) => l.finished()));
    await this.saving;
  }

  private async newIterator(after: string | undefined): Promise<string | undefined> {
    const { kinesis, streamName, spec } = this.source.options;
    const out = await kinesis.send(
      new GetShardIteratorCommand(
        after
          ? {
              StreamName: streamName,
              ShardId: this.shardId,
              ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
              StartingSequenceNumber: after,
            }
          : { StreamName: streamName, ShardId: this.shardId, ShardIteratorType: spec.startingPosition },
      ),
    );
    return out.ShardIterator;
  }

  private async fetchLoop(): Promise<void> {
    const { kinesis, spec, log } = this.source.options;
    const pollMs = this.source.options.pollIntervalMs ?? 250;
    // Back-pressure: keep a few batches per lane buffered, no more.
    const maxOutstanding = spec.batchSize * this.lanes.length * 4;
    while (!this.source.isStopping && this.iterator) {
      if (this.tracker.outstanding >= maxOutstanding) {
        await sleep(20);
        continue;
      }
      try {
        const out = await kinesis.send(
          new GetRecordsCommand({ ShardIterator: this.iterator, Limit: Math.min(10_000, maxOutstanding) }),
        );
        this.millisBehind = out.MillisBehindLatest ?? 0;
        const records = out.Records ?? [];
        for (const r of records) {
          const record: StreamRecord = {
            shardId: this.shardId,
            sequenceNumber: r.SequenceNumber ?? '',
            partitionKey: r.PartitionKey ?? '',
            data: r.Data ?? new Uint8Array(),
            approximateArrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
          };
          this.tracker.add(record.sequenceNumber);
          this.lastFetched = record.sequenceNumber;
          this.lanes[laneFor(record.partitionKey, this.lanes.length)]?.push(record);
        }
        this.source.stats.received += records.length;
        if (records.length > 0) for (const lane of this.lanes) lane.kick();
        this.iterator = out.NextShardIterator;
        if (records.length === 0) await sleep(pollMs);
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'ExpiredIteratorException') {
          const renewed = await this.newIterator(this.lastFetched ?? this.checkpoint).catch((renewError: Error) => {
            log?.(`kinesis: renewing the iterator of ${this.shardId} failed (${renewError.name}); retrying`);
            return null;
          });
          // Without a new iterator, pause instead of spinning on the expired one.
          if (renewed === null) await sleep(1_000);
          else this.iterator = renewed;
          continue;
        }
        log?.(`kinesis: GetRecords on ${this.shardId} failed (${name}: ${(error as Error).message}); retrying`);
        await sleep(1_000);
      }
    }
  }

  /** Marks records done; the checkpoint moves when they complete a prefix of the shard. */
  private acknowledge(records: readonly StreamRecord[]): void {
    const moved = this.tracker.acknowledge(records.map((r) => r.sequenceNumber));
    if (moved === undefined) return;
    this.checkpoint = moved;
    // One write at a time, always the newest value: checkpoints never move backwards.
    this.saving = this.saving.then(async () => {
      if (this.checkpoint === undefined) return;
      const value = this.checkpoint;
      for (let attempt = 1; attempt <= 5; attempt++) {
        try {
          await this.source.options.checkpoints.save(this.source.checkpointKey(this.shardId), value);
          return;
        } catch (error) {
          this.source.options.log?.(`kinesis: checkpoint write failed (${(error as Error).message})`);
          await sleep(exponentialDelayMs(attempt - 1, CHECKPOINT_RETRY));
        }
      }
    });
  }
}

/** The topology's Kinesis event source mappings, for the host (event-source.ts). */
export const kinesisSources: EventSourceKind = {
  kind: 'kinesis',
  create: (context: EventSourceContext) =>
    context.topology.kinesisSources.map(
      (spec) =>
        new KinesisEventSource({
          spec,
          streamName: context.topology.stream.name,
          region: context.region,
          kinesis: context.kinesis,
          sqs: context.sqs,
          onFailureQueueUrl: context.queueUrls[spec.onFailure],
          target: context.target(spec.function),
          checkpoints: context.checkpoints,
          ...(context.pollIntervalMs !== undefined ? { pollIntervalMs: context.pollIntervalMs } : {}),
          ...(context.retryDelayMs ? { retryDelayMs: context.retryDelayMs } : {}),
          ...(context.log ? { log: context.log } : {}),
        }),
    ),
};
