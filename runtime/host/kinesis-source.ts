/**
 * The Kinesis event source mapping of the embedded host, with AWS's semantics:
 *
 * - every shard is polled (GetRecords), records are batched up to `batchSize` or until the
 *   batching window since the oldest waiting record has passed;
 * - `parallelizationFactor` batches per shard run at once; records are assigned to a lane by a
 *   hash of their partition key, so order is kept per key (per sensor), as on AWS;
 * - partial batch responses: the records before the lowest failed sequence number are done,
 *   the batch is retried from that record;
 * - bisect on error: a failed batch is split in two and each half retried in order; splitting
 *   does not use up a retry attempt, so a poison record is isolated even with few retries;
 * - `retryAttempts` and `maxRecordAgeSeconds`: records given up on are acknowledged only after
 *   a notice naming their shard and sequence range is durable in the on-failure queue;
 * - checkpoints are durable (see checkpoints.ts) and only cover a fully acknowledged prefix.
 *
 * Stopping: no new batches start, retries in progress are abandoned (their records are not
 * acknowledged, so they are delivered again after a restart), batches in flight finish.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { StreamRecord } from '#domain/stream.js';
import type { KinesisSourceSpec } from '#topology.js';
import { readBatchResponse } from './batch-response.js';
import type { CheckpointKey, CheckpointStore } from './checkpoints.js';
import { type FailureCondition, kinesisEvent, kinesisFailureNotice } from './events.js';
import type { InvocationOutcome } from './protocol.js';
import { ShardTracker } from './shard-tracker.js';

/** What an event source needs from a function. */
export interface Invoker {
  readonly functionName: string;
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvocationOutcome>;
}

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

export interface ShardStatus {
  readonly shardId: string;
  readonly millisBehindLatest: number;
  readonly outstanding: number;
  readonly checkpoint: string | undefined;
}

/** Lane of a partition key: a stable hash, so one key always lands in the same lane. */
export function laneFor(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % lanes;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Lambda's synchronous invocation payload limit; the event source cuts batches to fit it. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;
/** JSON around one record's data in a KinesisStreamEvent (ARNs, ids, field names), generously. */
const RECORD_OVERHEAD_BYTES = 600;

/**
 * How many of the waiting records form the next batch: at most `batchSize`, and no more than
 * fit in a 6 MB event (base64 data plus the record's envelope). Always at least one record.
 */
export function batchLength(waiting: readonly Pick<StreamRecord, 'data'>[], batchSize: number): number {
  let bytes = 0;
  let n = 0;
  for (const record of waiting) {
    if (n >= batchSize) break;
    bytes += Math.ceil(record.data.length / 3) * 4 + RECORD_OVERHEAD_BYTES;
    if (n > 0 && bytes > MAX_EVENT_BYTES) break;
    n++;
  }
  return Math.max(1, n);
}

class Stopped extends Error {}

export class KinesisEventSource {
  readonly stats = {
    received: 0,
    acknowledged: 0,
    invocations: 0,
    failedInvocations: 0,
    noticesSent: 0,
    recordsGivenUp: 0,
  };
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

  status(): ShardStatus[] {
    return [...this.shards.values()].map((p) => p.status());
  }

  /** Stops polling, lets in-flight batches finish and writes the last checkpoints. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.shards.values()].map((p) => p.stop()));
  }

  /** Sends the on-failure notice; retried until durable, because the records are acknowledged after it. */
  async sendNotice(
    records: readonly StreamRecord[],
    condition: FailureCondition,
    invokeCount: number,
    lastOutcome: InvocationOutcome | undefined,
  ): Promise<void> {
    const { region, streamName, sqs, onFailureQueueUrl, target } = this.options;
    const notice = kinesisFailureNotice({
      records,
      condition,
      functionArn: target.functionArn,
      requestId: lastOutcome?.requestId ?? randomUUID(),
      invokeCount,
      functionError: lastOutcome && !lastOutcome.ok ? lastOutcome.functionError : '',
      region,
      streamName,
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await sqs.send(new SendMessageCommand({ QueueUrl: onFailureQueueUrl, MessageBody: JSON.stringify(notice) }));
        this.stats.noticesSent++;
        this.stats.recordsGivenUp += records.length;
        this.options.log?.(
          `kinesis: gave up on ${records.length} record(s) of ${records[0]?.shardId} (${condition}); notice sent`,
        );
        return;
      } catch (error) {
        if (this.stopping) throw new Stopped();
        this.options.log?.(`kinesis: on-failure queue unavailable (${(error as Error).message}); retrying`);
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
      }
    }
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

  private async sleep(ms: number): Promise<void> {
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
        await this.sleep(1_000);
        continue;
      }
      const waited = Date.now() - first.enqueuedAt;
      if (this.queue.length < spec.batchSize && waited < windowMs) {
        await this.sleep(windowMs - waited);
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
        await this.shard.process(batch, 0);
      } catch (error) {
        if (!(error instanceof Stopped)) throw error;
      }
    }
  }
}

class ShardPoller {
  private readonly tracker = new ShardTracker();
  private readonly lanes: Lane[];
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

  private acknowledge(records: readonly StreamRecord[]): void {
    if (records.length === 0) return;
    this.source.stats.acknowledged += records.length;
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
          await sleep(200 * attempt);
        }
      }
    });
  }

  /**
   * Delivers `records` (consecutive records of one lane) until each is acknowledged, given up
   * on, or the host stops. `attempts` counts the failed invocations of these records so far.
   */
  async process(records: readonly StreamRecord[], attempts: number): Promise<void> {
    const { spec, target, region, streamName } = this.source.options;
    const retryDelay = this.source.options.retryDelayMs ?? ((n: number) => Math.min(5_000, 100 * 2 ** (n - 1)));
    let current = records;
    let tries = attempts;
    let invokeCount = attempts;
    let last: InvocationOutcome | undefined;
    while (current.length > 0) {
      if (this.source.isStopping && tries > 0) throw new Stopped();
      if (spec.maxRecordAgeSeconds >= 0) {
        const cutoff = Date.now() - spec.maxRecordAgeSeconds * 1000;
        let k = 0;
        while (k < current.length && (current[k] as StreamRecord).approximateArrivalMs < cutoff) k++;
        if (k > 0) {
          const expired = current.slice(0, k);
          await this.source.sendNotice(expired, 'RecordAgeExceeded', invokeCount, last);
          this.acknowledge(expired);
          current = current.slice(k);
          continue;
        }
      }
      const outcome = await target.invoke(
        kinesisEvent(current, { region, streamName, functionName: target.functionName }),
      );
      this.source.stats.invocations++;
      invokeCount++;
      last = outcome;
      let failedWhole = !outcome.ok;
      if (outcome.ok) {
        const verdict = spec.reportBatchItemFailures
          ? readBatchResponse(
              outcome.payload,
              current.map((r) => r.sequenceNumber),
            )
          : { kind: 'success' as const };
        if (verdict.kind === 'success') {
          this.acknowledge(current);
          return;
        }
        if (verdict.kind === 'partial') {
          // Resume at the lowest failed sequence number; everything before it is done.
          const lowest = verdict.failed[0] ?? 0;
          this.acknowledge(current.slice(0, lowest));
          current = current.slice(lowest);
        } else {
          failedWhole = true;
        }
      }
      this.source.stats.failedInvocations++;
      if (failedWhole && spec.bisectBatchOnError && current.length > 1) {
        const mid = Math.ceil(current.length / 2);
        await this.process(current.slice(0, mid), tries);
        await this.process(current.slice(mid), tries);
        return;
      }
      tries++;
      if (spec.retryAttempts >= 0 && tries > spec.retryAttempts) {
        await this.source.sendNotice(current, 'RetryAttemptsExhausted', invokeCount, last);
        this.acknowledge(current);
        return;
      }
      await sleep(retryDelay(tries));
    }
  }
}
