/**
 * The Kafka event source of the embedded host: what a self-managed Kafka event source mapping
 * does on AWS, against any Kafka broker (kafkajs 2.2.4).
 *
 * - a consumer group on one topic; each partition's records are delivered in offset order, in
 *   batches of at most `batchSize` records and 6 MB of event; the batching window is the fetch's
 *   wait (`maxWaitTimeInMs`): the broker answers when enough bytes are there or the window ends;
 * - the function gets a `SelfManagedKafka` event; with `reportBatchItemFailures` its
 *   `batchItemFailures` (`<topic>-<partition>-<offset>`) make the batch resume at the lowest
 *   failed record, everything before it being done;
 * - bisect on error, `retryAttempts` and `maxRecordAgeSeconds` as the Kinesis source applies
 *   them (the same stream driver, batch-driver.ts); records given up on are acknowledged only
 *   after a notice naming their topic-partition and offset range is durable in the on-failure
 *   queue;
 * - an offset is committed only when every record up to it is acknowledged, so a stop, a crash
 *   or a broker outage redelivers, never skips. A redelivered record reaches the bridge again;
 *   the database keeps one row per Kafka origin.
 *
 * Broker outages: kafkajs retries its connections and restarts the consumer after a failure
 * (`restartOnFailure`); the group resumes from the committed offsets.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type ISocketFactory,
  Kafka,
  type KafkaMessage,
  logLevel,
} from 'kafkajs';
import { sleep } from '#adapters/retry.js';
import type { KafkaSourceSpec } from '#topology.js';
import { type BatchSource, deliver, deliveryStats, Stopped } from './batch-driver.js';
import type { Invoker } from './event-source.js';
import { type ConsumedRecord, itemIdentifier, kafkaFailureNotice, selfManagedKafkaEvent } from './kafka-events.js';
import { defaultRetryDelayMs, MAX_EVENT_BYTES } from './kinesis-policy.js';

/**
 * The event-source settings: the topology's Kafka source entry (src/topology.ts) without the
 * parts the options name on their own (topic, consumer group, target, on-failure queue).
 */
export type KafkaSourceSettings = Omit<KafkaSourceSpec, 'function' | 'topic' | 'consumerGroupId' | 'onFailure'>;

export interface KafkaSourceOptions {
  readonly settings: KafkaSourceSettings;
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly consumerGroupId: string;
  readonly target: Invoker;
  readonly sqs: SQSClient;
  readonly onFailureQueueUrl: string;
  /** Delay before retry `attempt` (1-based); exponential by default, like Lambda's. */
  readonly retryDelayMs?: (attempt: number) => number;
  /** How often the consumer lag is refreshed from the broker. */
  readonly lagRefreshMs?: number;
  readonly log?: (message: string) => void;
  /** kafkajs's socket factory; tests use it to cut the network to the broker. */
  readonly socketFactory?: ISocketFactory;
}

export interface KafkaPartitionStatus {
  readonly partition: number;
  /** The partition's end (the offset the next record will get). */
  readonly highWatermark: string;
  /** The group's committed offset (the next record to deliver), undefined before the first commit. */
  readonly committed: string | undefined;
  readonly lag: number;
}

export interface KafkaSourceStatus {
  readonly topic: string;
  readonly consumerGroupId: string;
  readonly partitions: readonly KafkaPartitionStatus[];
  /** Records in the topic not yet acknowledged by the group (sum over partitions). */
  readonly lag: number;
  /** When the lag was last read from the broker; undefined when it never could be. */
  readonly lagReadAt: Date | undefined;
}

/** JSON around one record in the event (topic, offsets, field names), generously. */
const RECORD_OVERHEAD_BYTES = 400;

/** How many of `records` form the next batch: at most `batchSize` and 6 MB of event, at least one. */
export function kafkaBatchLength(records: readonly ConsumedRecord[], batchSize: number): number {
  let bytes = 0;
  let n = 0;
  for (const r of records) {
    if (n >= batchSize) break;
    const raw = (r.value?.length ?? 0) + (r.key?.length ?? 0);
    bytes += Math.ceil(raw / 3) * 4 + RECORD_OVERHEAD_BYTES;
    if (n > 0 && bytes > MAX_EVENT_BYTES) break;
    n++;
  }
  return Math.max(1, n);
}

/** Errors that mean this consumer is no longer the partition's owner in the group. */
const MEMBERSHIP_ERRORS = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);

function lostMembership(error: unknown): boolean {
  return MEMBERSHIP_ERRORS.has((error as { type?: string }).type ?? '');
}

/** How often the group hears from a consumer whose invocation is still running. */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Awaits an invocation while heartbeating the group. An invocation can outlast the session
 * timeout (a cold start compiling the handler on a busy machine took more than 30 s here); a
 * consumer silent that long is dropped from the group, its commits fail and its partitions
 * stall. The event source mapping's poller heartbeats on its own on AWS too.
 */
async function whileBeating<T>(work: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
  const timer = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    await heartbeat().catch(() => undefined);
  }
}

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number(m.timestamp),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: m.headers ?? {},
  };
}

export class KafkaEventSource {
  readonly stats = { ...deliveryStats(), commits: 0 };
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private stopping = false;
  private lagLoop: Promise<void> | undefined;
  private partitions: KafkaPartitionStatus[] = [];
  private lagReadAt: Date | undefined;

  constructor(readonly options: KafkaSourceOptions) {}

  async start(): Promise<void> {
    const { brokers, topic, consumerGroupId, settings, socketFactory } = this.options;
    const kafka = new Kafka({
      clientId: 'iot-first-kafka-event-source',
      brokers: [...brokers],
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 10 },
      ...(socketFactory ? { socketFactory } : {}),
    });
    const windowMs = Math.round(settings.maxBatchingWindowSeconds * 1000);
    this.consumer = kafka.consumer({
      groupId: consumerGroupId,
      // The batching window: the broker holds the fetch until it has minBytes or the window ends.
      maxWaitTimeInMs: Math.max(10, windowMs),
      minBytes: windowMs > 0 ? 1024 * 1024 : 1,
      // A member that vanished (a killed host) is replaced within seconds, not Kafka's 45.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 10, restartOnFailure: async () => true },
    });
    this.admin = kafka.admin();
    await this.consumer.connect();
    await this.admin.connect();
    await this.consumer.subscribe({ topic, fromBeginning: settings.startingPosition === 'TRIM_HORIZON' });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.lagLoop = this.refreshLagLoop();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  status(): KafkaSourceStatus {
    return {
      topic: this.options.topic,
      consumerGroupId: this.options.consumerGroupId,
      partitions: this.partitions,
      lag: this.partitions.reduce((sum, p) => sum + p.lag, 0),
      lagReadAt: this.lagReadAt,
    };
  }

  /** Stops fetching, lets the batch in flight finish and commit, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect().catch(() => undefined);
    await this.lagLoop;
    await this.admin?.disconnect().catch(() => undefined);
  }

  /** Reads the group's lag from the broker: end offsets minus committed offsets, per partition. */
  async refreshLag(): Promise<void> {
    const { topic, consumerGroupId } = this.options;
    if (!this.admin) return;
    const ends = await this.admin.fetchTopicOffsets(topic);
    const [committed] = await this.admin.fetchOffsets({ groupId: consumerGroupId, topics: [topic] });
    const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
    this.partitions = ends
      .map((end) => {
        const c = byPartition.get(end.partition);
        const known = c !== undefined && Number(c) >= 0;
        const start = known ? Number(c) : Number(end.low);
        return {
          partition: end.partition,
          highWatermark: end.high,
          committed: known ? c : undefined,
          lag: Math.max(0, Number(end.high) - start),
        };
      })
      .sort((a, b) => a.partition - b.partition);
    this.lagReadAt = new Date();
  }

  private async refreshLagLoop(): Promise<void> {
    const every = this.options.lagRefreshMs ?? 2_000;
    while (!this.stopping) {
      await this.refreshLag().catch(() => undefined); // broker away: keep the last reading
      for (let waited = 0; waited < every && !this.stopping; waited += 100) await sleep(100);
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const records = batch.messages.map((m) => toConsumed(batch.topic, batch.partition, m));
    this.stats.received += records.length;
    const delivery = this.deliverySource(heartbeat);
    let i = 0;
    while (i < records.length) {
      if (this.stopping || !isRunning() || isStale()) return;
      const n = kafkaBatchLength(records.slice(i), this.options.settings.batchSize);
      const chunk = records.slice(i, i + n);
      try {
        await deliver(delivery, chunk);
      } catch (error) {
        if (error instanceof Stopped) return; // not acknowledged: delivered again after a restart
        throw error;
      }
      const last = chunk[chunk.length - 1] as ConsumedRecord;
      resolveOffset(last.offset);
      await this.commit(batch.topic, batch.partition, last.offset);
      i += n;
    }
  }

  /** Commits the offset after `offset`; a failure throws, and kafkajs fetches from the last commit again. */
  private async commit(topic: string, partition: number, offset: string): Promise<void> {
    const next = (BigInt(offset) + 1n).toString();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.consumer?.commitOffsets([{ topic, partition, offset: next }]);
        this.stats.commits++;
        return;
      } catch (error) {
        this.options.log?.(`kafka: commit of ${topic}-${partition}@${next} failed (${(error as Error).message})`);
        // Not a member any more: the partition is someone else's (or ours after the rejoin that
        // throwing starts); retrying here only holds every partition of this consumer still.
        if (attempt >= 5 || lostMembership(error)) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  /**
   * A fetched batch of one partition as the stream driver sees it. Its records are acknowledged
   * by committing after the driver returns (onBatch), so acknowledging here is only counting;
   * the group hears a heartbeat during every invocation (whileBeating). The decisions are the
   * Kinesis source's (kinesis-policy.ts): Lambda applies the same rules to both kinds of stream.
   */
  private deliverySource(heartbeat: () => Promise<void>): BatchSource<ConsumedRecord> {
    const { settings, target, brokers, consumerGroupId, sqs, onFailureQueueUrl, retryDelayMs, log } = this.options;
    return {
      kind: 'kafka',
      policy: settings,
      stats: this.stats,
      functionArn: target.functionArn,
      onFailure: { sqs, queueUrl: onFailureQueueUrl },
      retryDelayMs: retryDelayMs ?? defaultRetryDelayMs,
      log: (message) => log?.(message),
      stopping: () => this.stopping,
      itemIdentifier,
      // Kafka records carry their own timestamp; it plays the part of Kinesis's arrival time.
      arrivalMs: (record) => record.timestamp,
      invoke: (records) =>
        whileBeating(target.invoke(selfManagedKafkaEvent(records, { bootstrapServers: brokers })), heartbeat),
      acknowledge: () => undefined,
      failureNotice: (records, failure) =>
        kafkaFailureNotice({ records, ...failure, bootstrapServers: brokers, consumerGroupId }),
      where: (records) => `from ${itemIdentifier(records[0] as ConsumedRecord)}`,
    };
  }
}
