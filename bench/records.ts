/**
 * Deterministic benchmark input: the producer's own fleet and fault mix (src/domain/fleet.ts,
 * the code the producer Lambda runs), encoded as the Kinesis events the local Lambda host
 * delivers (runtime/host/events.ts), so the validator sees exactly what it sees in production.
 *
 * Deterministic so that two processes (the benchmark and the child that hosts the handler)
 * derive the same bytes and the same stream positions from a few numbers, instead of shipping
 * hundreds of megabytes over IPC.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { type OutcomeCounts, type SimulatedRecord, simulate } from '#domain/fleet.js';
import type { StreamRecord } from '#domain/stream.js';
import { kinesisEvent } from '#runtime/host/events.js';
import { topology } from '#topology.js';

export const REGION = 'us-east-1';
export const STREAM_NAME = topology.stream.name;
/** The topology's batch size for the validator's Kinesis event source. */
export const VALIDATOR_BATCH_SIZE = topology.kinesisSources.find((s) => s.function === 'validator')?.batchSize ?? 100;
/** Fixed event time origin: windows and the bytes do not depend on when the benchmark runs. */
export const EVENT_TIME_ORIGIN = new Date('2026-11-26T12:00:00Z');
const SEQUENCE_BASE = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000n;
const ARRIVAL_MS = EVENT_TIME_ORIGIN.getTime() + 1_000;

export interface RecordSetSpec {
  readonly count: number;
  readonly seed: number;
  /** Fleet size; the producer's default fleet reports in turn. */
  readonly sensors: number;
  /** Offset of the first stream position, so two sets of one database never collide. */
  readonly positionOffset: number;
}

export interface RecordSet {
  readonly records: readonly SimulatedRecord[];
  readonly expected: OutcomeCounts;
}

/** The producer's records with its default fault rates (25% inactive, 5% below, 5% above, 2% null). */
export function recordSet(spec: RecordSetSpec): RecordSet {
  const simulation = simulate({
    count: spec.count,
    sensors: spec.sensors,
    seed: spec.seed,
    startTime: EVENT_TIME_ORIGIN,
    intervalMs: 2_000,
  });
  return { records: simulation.records, expected: simulation.expected };
}

/**
 * Stream position of record `index` of a set: batches alternate between the two shards of the
 * topology, sequence numbers increase, as the host would deliver them.
 */
function hostRecord(record: SimulatedRecord, index: number, batchSize: number, offset: number): StreamRecord {
  const batch = Math.floor(index / batchSize);
  return {
    shardId: `shardId-00000000000${batch % 2}`,
    sequenceNumber: (SEQUENCE_BASE + BigInt(offset + index)).toString(),
    partitionKey: record.partitionKey,
    data: record.data,
    approximateArrivalMs: ARRIVAL_MS,
  };
}

/** The set cut into batches of `batchSize`, each as the Kinesis event Lambda would deliver. */
export function kinesisEvents(set: RecordSet, spec: RecordSetSpec, batchSize: number): KinesisStreamEvent[] {
  const events: KinesisStreamEvent[] = [];
  for (let start = 0; start < set.records.length; start += batchSize) {
    const slice = set.records
      .slice(start, start + batchSize)
      .map((r, i) => hostRecord(r, start + i, batchSize, spec.positionOffset));
    events.push(
      kinesisEvent(slice, { region: REGION, streamName: STREAM_NAME, functionName: topology.functions.validator.name }),
    );
  }
  return events;
}

// The store's own encoding, so the raw-COPY baseline sends exactly the bytes the validator sends.
export {
  type Cell,
  columns,
  copyText,
  READING_COLUMNS,
  readingCells,
} from '#adapters/postgres/pipeline-store.js';
