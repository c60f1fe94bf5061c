/**
 * The seam every event source mapping of the local Lambda host plugs into. A source kind
 * (Kinesis, SQS, and later Kafka) is one module exporting an `EventSourceKind`; the host
 * creates each registered kind's sources from the topology and drives them only through
 * `EventSource`, so adding a kind is that module plus one entry in lambda-host.ts's list.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionId, QueueId, Topology } from '#topology.js';
import type { CheckpointStore } from './checkpoints.js';
import type { InvocationOutcome } from './protocol.js';

/** What an event source needs from a function. */
export interface Invoker {
  readonly functionName: string;
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvocationOutcome>;
}

/** A shard's (or partition's) position, for the status panel. */
export interface ShardStatus {
  readonly shardId: string;
  readonly millisBehindLatest: number;
  readonly outstanding: number;
  readonly checkpoint: string | undefined;
}

/** What the host hands every source kind: the topology, the clients, the functions. */
export interface EventSourceContext {
  readonly topology: Topology;
  readonly region: string;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly queueUrls: Readonly<Record<QueueId, string>>;
  readonly checkpoints: CheckpointStore;
  /** Pause after an empty poll (tests shorten it). */
  readonly pollIntervalMs?: number;
  /** Delay before retry `attempt` (1-based) of a failed batch. */
  readonly retryDelayMs?: (attempt: number) => number;
  readonly log?: (message: string) => void;
  target(id: FunctionId): Invoker;
}

export interface EventSource {
  /** Its kind's name; its counters are summed per kind in the host's status. */
  readonly kind: string;
  /**
   * True for sources that read what producers send (streams): a graceful stop ends them first
   * ("stop intake"), while queue sources keep running so the drainer can empty the queues the
   * last batches filled.
   */
  readonly intake: boolean;
  readonly stats: Readonly<Record<string, number>>;
  start(): Promise<void>;
  /** Stops polling; batches in flight finish and acknowledge what they completed. */
  stop(): Promise<void>;
  /** Positions per shard or partition, when the source has them. */
  positions?(): ShardStatus[];
}

export interface EventSourceKind {
  /** The key of `LambdaHostOptions.enable` that switches this kind off (tests). */
  readonly kind: string;
  create(context: EventSourceContext): EventSource[];
}
