/**
 * Kinesis implementation of the {@link StreamReader} port: reads a sequence-number range of one
 * shard back, for the drainer's handling of failed-batch notices.
 */
import {
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { sleep } from '#adapters/retry.js';
import { toStorableText } from '#domain/error-record.js';
import { compareSequenceNumbers } from '#domain/failure-notice.js';
import type { StreamReader } from '#domain/ports.js';
import type { PositionedRecord } from '#domain/stream.js';

/**
 * Errors meaning "the stream does not hold that position any more": trimmed past retention, or
 * a sequence number the shard does not know (the stream was deleted and re-created).
 * ResourceNotFoundException is deliberately not here: a wrong region or endpoint says the same,
 * and writing a batch off on a configuration error would lose records still in the stream;
 * it propagates, the notice is retried and, failing that, redriven to the DLQ.
 */
const GONE = new Set(['TrimmedDataAccessException', 'InvalidArgumentException']);

/** Shards can hold stretches with no records; keep reading a while before calling the tip. */
const MAX_EMPTY_READS = 20;
const EMPTY_READ_PAUSE_MS = 100;

export class KinesisStreamReader implements StreamReader {
  constructor(private readonly kinesis: KinesisClient) {}

  async readRange(range: Parameters<StreamReader['readRange']>[0]): ReturnType<StreamReader['readRange']> {
    const records: PositionedRecord[] = [];
    let iterator: string | undefined;
    try {
      const out = await this.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: range.streamName,
          ShardId: range.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: range.startSequenceNumber,
        }),
      );
      iterator = out.ShardIterator;
    } catch (error) {
      if (error instanceof Error && GONE.has(error.name)) return { records, complete: false };
      throw error;
    }

    let emptyReads = 0;
    while (iterator && emptyReads < MAX_EMPTY_READS) {
      let out: GetRecordsCommandOutput;
      try {
        out = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      } catch (error) {
        if (error instanceof Error && GONE.has(error.name)) return { records, complete: false };
        throw error;
      }
      const batch = out.Records ?? [];
      emptyReads = batch.length === 0 ? emptyReads + 1 : 0;
      if (emptyReads > 0) await sleep(EMPTY_READ_PAUSE_MS);
      for (const r of batch) {
        const seq = r.SequenceNumber ?? '0';
        if (compareSequenceNumbers(seq, range.endSequenceNumber) > 0) {
          return { records, complete: isComplete(records, range.startSequenceNumber) };
        }
        records.push({
          data: r.Data ?? new Uint8Array(),
          position: {
            streamName: range.streamName,
            shardId: range.shardId,
            sequenceNumber: seq,
            partitionKey: toStorableText(r.PartitionKey ?? ''),
            arrivalTime: r.ApproximateArrivalTimestamp ?? new Date(0),
          },
        });
      }
      // At the tip of the shard with the end of the range not reached: nothing more will come.
      if (batch.length === 0 && out.MillisBehindLatest === 0) break;
      iterator = out.NextShardIterator;
    }
    return { records, complete: isComplete(records, range.startSequenceNumber) };
  }
}

function isComplete(records: readonly PositionedRecord[], start: string): boolean {
  return records.length > 0 && records[0]?.position.sequenceNumber === start;
}
