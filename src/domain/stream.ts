/**
 * The stream vocabulary, defined once: where a record sat in the stream, and the two shapes a
 * record takes on its way to the pipeline. Every layer that handles stream records (the domain's
 * rules, the Lambda event adapter, the stream reader, the local Lambda host and the benchmarks)
 * uses these, so a field means the same thing everywhere.
 */

/** Where a record sat in the stream: the seed's Kafka topic/partition/offset/timestamp. */
export interface StreamPosition {
  readonly streamName: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly arrivalTime: Date;
}

/** A record as the pipeline classifies it: its bytes and where it sat. */
export interface PositionedRecord {
  readonly data: Uint8Array;
  readonly position: StreamPosition;
}

/**
 * A record as one shard hands it out (Kinesis `GetRecords`), before it is wrapped in a Lambda
 * event: the stream is implied by the shard being read, and the arrival time stays in epoch
 * milliseconds as the event carries it.
 */
export interface StreamRecord extends Pick<StreamPosition, 'shardId' | 'sequenceNumber' | 'partitionKey'> {
  readonly data: Uint8Array;
  /** Epoch milliseconds. */
  readonly approximateArrivalMs: number;
}
