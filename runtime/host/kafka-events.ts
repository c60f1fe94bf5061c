/**
 * Payloads of the local Kafka event source, shaped as a self-managed Kafka event source mapping
 * delivers them on AWS: the `SelfManagedKafka` event and the on-failure record that names the
 * topic-partition and offset range of records given up on (the records stay in Kafka).
 */
import type { SelfManagedKafkaEvent } from 'aws-lambda';
import { failureNoticeEnvelope } from './events.js';

/** One consumed record, as the source keeps it until acknowledged. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
}

export function itemIdentifier(record: Pick<ConsumedRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${record.topic}-${record.partition}-${record.offset}`;
}

function headerList(headers: ConsumedRecord['headers']): Record<string, number[]>[] {
  const out: Record<string, number[]>[] = [];
  for (const [key, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined) continue;
      out.push({ [key]: [...(typeof v === 'string' ? Buffer.from(v, 'utf8') : v)] });
    }
  }
  return out;
}

/** Lambda's event: records under "topic-partition", base64 key and value (absent when null). */
export function selfManagedKafkaEvent(
  records: readonly ConsumedRecord[],
  options: { readonly bootstrapServers: readonly string[] },
): SelfManagedKafkaEvent {
  const grouped: SelfManagedKafkaEvent['records'] = {};
  for (const r of records) {
    const record: Record<string, unknown> = {
      topic: r.topic,
      partition: r.partition,
      offset: Number(r.offset),
      timestamp: r.timestamp,
      timestampType: 'CREATE_TIME',
      headers: headerList(r.headers),
    };
    if (r.key !== null) record.key = r.key.toString('base64');
    if (r.value !== null) record.value = r.value.toString('base64');
    const group = `${r.topic}-${r.partition}`;
    grouped[group] ??= [];
    grouped[group].push(record as unknown as SelfManagedKafkaEvent['records'][string][number]);
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers: options.bootstrapServers.join(','), records: grouped };
}

/** The on-failure record for Kafka records given up on: their range, not their bytes. */
export function kafkaFailureNotice(options: {
  readonly records: readonly ConsumedRecord[];
  readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  readonly functionArn: string;
  readonly requestId: string;
  readonly invokeCount: number;
  readonly functionError: string;
  readonly bootstrapServers: readonly string[];
  readonly consumerGroupId: string;
}): Record<string, unknown> {
  const first = options.records[0];
  const last = options.records[options.records.length - 1];
  if (!first || !last) throw new Error('a failure notice needs at least one record');
  return {
    ...failureNoticeEnvelope(options),
    KafkaBatchInfo: {
      batchSize: options.records.length,
      bootstrapServers: options.bootstrapServers.join(','),
      consumerGroupId: options.consumerGroupId,
      topic: first.topic,
      partition: first.partition,
      firstRecordOffset: first.offset,
      lastRecordOffset: last.offset,
      firstRecordTimestamp: new Date(first.timestamp).toISOString(),
      lastRecordTimestamp: new Date(last.timestamp).toISOString(),
    },
  };
}
