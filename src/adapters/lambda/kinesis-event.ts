/**
 * Mapping of Lambda's Kinesis event records to the domain's positioned records. The shard id is
 * the part of `eventID` before the colon (`shardId-000000000000:4959…`), as AWS documents.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { toStorableText } from '#domain/error-record.js';
import { streamNameFromArn } from '#domain/failure-notice.js';
import type { PositionedRecord } from '#domain/stream.js';

export function toPositionedRecord(record: KinesisStreamRecord): PositionedRecord {
  const k = record.kinesis;
  const colon = record.eventID.indexOf(':');
  return {
    data: Buffer.from(k.data, 'base64'),
    position: {
      streamName: streamNameFromArn(record.eventSourceARN),
      shardId: colon > 0 ? record.eventID.slice(0, colon) : 'unknown',
      sequenceNumber: k.sequenceNumber,
      partitionKey: toStorableText(k.partitionKey),
      arrivalTime: new Date(Math.round(k.approximateArrivalTimestamp * 1000)),
    },
  };
}
