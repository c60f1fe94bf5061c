/**
 * The Kafka door's use case: forward every record of a Kafka batch into the stream, value bytes
 * unchanged, and say which records did not make it so the event source retries them.
 *
 * A record is acknowledged only when the stream confirmed it (a sequence number). Records the
 * stream cannot take even in principle (larger than a Kinesis record) are never sent and are
 * reported as failures every time: the event source retries them, then gives them to its
 * on-failure destination, and their neighbours are not held back. A record forwarded twice (the
 * event source redelivers a batch after a partial failure) lands once: its partition key names
 * its Kafka origin, and the database keeps one row per origin (see kafka-record.ts).
 */

import {
  explicitHashKey,
  groupingKey,
  type KafkaRecord,
  kafkaItemIdentifier,
  originPartitionKey,
} from '#domain/kafka-record.js';
import type { StreamWriter } from '#domain/ports.js';

/** Largest Kinesis record: data plus partition key (PutRecords rejects the whole call beyond it). */
export const MAX_KINESIS_RECORD_BYTES = 1024 * 1024;

export interface ForwardedRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string;
  readonly data: Uint8Array;
  readonly source: KafkaRecord;
}

export interface BridgeFailure {
  readonly record: KafkaRecord;
  readonly itemIdentifier: string;
  readonly reason: string;
}

export interface BridgeOutcome {
  readonly received: number;
  readonly forwarded: number;
  readonly failed: readonly BridgeFailure[];
  readonly putRecordsCalls: number;
}

/** What goes into the stream for one Kafka record. */
export function toForwardedRecord(record: KafkaRecord): ForwardedRecord {
  return {
    partitionKey: originPartitionKey(record),
    explicitHashKey: explicitHashKey(groupingKey(record)),
    data: record.value,
    source: record,
  };
}

function tooLarge(record: ForwardedRecord): boolean {
  return record.data.length + Buffer.byteLength(record.partitionKey, 'utf8') > MAX_KINESIS_RECORD_BYTES;
}

function failure(record: KafkaRecord, reason: string): BridgeFailure {
  return { record, itemIdentifier: kafkaItemIdentifier(record), reason };
}

export async function bridgeKafkaBatch(
  records: readonly KafkaRecord[],
  deps: { readonly stream: StreamWriter },
): Promise<BridgeOutcome> {
  const outgoing = records.map(toForwardedRecord);
  const failed: BridgeFailure[] = [];
  const sendable: ForwardedRecord[] = [];
  for (const record of outgoing) {
    if (tooLarge(record)) {
      failed.push(
        failure(
          record.source,
          `RecordTooLarge: ${record.data.length} bytes do not fit a Kinesis record (${MAX_KINESIS_RECORD_BYTES} bytes with the key)`,
        ),
      );
    } else {
      sendable.push(record);
    }
  }
  let calls = 0;
  if (sendable.length > 0) {
    try {
      const result = await deps.stream.write(sendable);
      calls = result.calls;
      for (const f of result.failed) failed.push(failure(f.record.source, `${f.errorCode}: ${f.errorMessage}`));
    } catch (error) {
      // The writer reports failures per entry; a throw is a bug or a client that could not be built.
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      for (const record of sendable) failed.push(failure(record.source, reason));
    }
  }
  return { received: records.length, forwarded: records.length - failed.length, failed, putRecordsCalls: calls };
}
