/**
 * Mapping of Lambda's Kafka event (Amazon MSK `aws:kafka` and self-managed `SelfManagedKafka`,
 * the same shape) to the domain's Kafka records.
 *
 * `records` is keyed by "topic-partition"; each record carries base64 `key` and `value`
 * (absent or null for a null key or value) and `headers`, a list of one-entry objects whose
 * value is the header's bytes as an array of numbers. Records keep the event's order: per
 * partition, ascending offsets.
 */
import type { MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';
import type { KafkaHeader, KafkaRecord } from '#domain/kafka-record.js';

export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/** A record as delivered: the SDK types say strings, but null keys and values arrive absent or null. */
type DeliveredRecord = Omit<MSKRecord, 'key' | 'value' | 'headers' | 'offset'> & {
  readonly key?: string | null;
  readonly value?: string | null;
  readonly offset: number | string;
  readonly headers?: readonly Record<string, readonly number[]>[] | null;
};

function decodeBase64(text: string | null | undefined): Uint8Array | undefined {
  return text === undefined || text === null ? undefined : Buffer.from(text, 'base64');
}

function toHeaders(headers: DeliveredRecord['headers']): KafkaHeader[] {
  const out: KafkaHeader[] = [];
  for (const entry of headers ?? []) {
    for (const [key, bytes] of Object.entries(entry)) out.push({ key, value: Uint8Array.from(bytes) });
  }
  return out;
}

export function toKafkaRecord(record: DeliveredRecord): KafkaRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
    timestampType: record.timestampType,
    key: decodeBase64(record.key),
    value: decodeBase64(record.value) ?? new Uint8Array(),
    headers: toHeaders(record.headers),
  };
}

/** Every record of the event, partition by partition in the event's order. */
export function kafkaRecordsOf(event: KafkaEvent): KafkaRecord[] {
  const out: KafkaRecord[] = [];
  for (const records of Object.values(event.records ?? {}) as DeliveredRecord[][]) {
    for (const record of records) out.push(toKafkaRecord(record));
  }
  return out;
}
