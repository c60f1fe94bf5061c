/**
 * The Kafka door's pure rules: the origin carried by the partition key, the grouping key that
 * picks the shard, and the identifiers of a partial batch response.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  explicitHashKey,
  groupingKey,
  kafkaItemIdentifier,
  MAX_PARTITION_KEY_CHARS,
  originPartitionKey,
  parseOriginPartitionKey,
} from '#domain/kafka-record.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('the origin partition key', () => {
  it('carries topic, partition, offset and timestamp, and reads back the same', () => {
    const origin = { topic: 'iot_sensor_data', partition: 3, offset: '9007199254740993', timestamp: 1_764_460_800_123 };
    const key = originPartitionKey(origin);
    expect(key).toBe('kafka:iot_sensor_data:3:9007199254740993:1764460800123');
    expect(parseOriginPartitionKey(key)).toEqual(origin);
  });

  it('keeps a negative timestamp (a record without one) and reads it back', () => {
    const key = originPartitionKey({ topic: 't', partition: 0, offset: '0', timestamp: -1 });
    expect(parseOriginPartitionKey(key)?.timestamp).toBe(-1);
  });

  it('fits Kinesis limits for the longest topic Kafka allows, and two long topics stay distinct', () => {
    const a = originPartitionKey({
      topic: 'a'.repeat(249),
      partition: 2147483647,
      offset: '9'.repeat(18),
      timestamp: 1e13,
    });
    const b = originPartitionKey({
      topic: `${'a'.repeat(248)}b`,
      partition: 2147483647,
      offset: '9'.repeat(18),
      timestamp: 1e13,
    });
    expect(a.length).toBeLessThanOrEqual(MAX_PARTITION_KEY_CHARS);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^kafka:a+~[0-9a-f]{12}:/);
  });

  it('is not read from keys of other doors or from malformed kafka: keys', () => {
    for (const key of ['sensor-1', 'mqtt:thing-1', 'kafka:', 'kafka:t:x:1:2', 'kafka:t:1:2', 'kafka:a:b:1:2:3']) {
      expect(parseOriginPartitionKey(key)).toBeUndefined();
    }
  });
});

describe('the grouping key', () => {
  const base = { topic: 'iot_sensor_data', partition: 1 };
  const reading = Buffer.from(JSON.stringify({ sensor_id: 'sensor-42', value: 1 }));

  it('is the Kafka key when there is one', () => {
    expect(text(groupingKey({ ...base, key: Buffer.from('device-7'), value: reading }))).toBe('device-7');
  });

  it('is the sensor id for a null or empty key, and the topic-partition when no id can be read', () => {
    expect(text(groupingKey({ ...base, key: undefined, value: reading }))).toBe('sensor-42');
    expect(text(groupingKey({ ...base, key: new Uint8Array(), value: reading }))).toBe('sensor-42');
    expect(text(groupingKey({ ...base, key: undefined, value: Buffer.from([0xff, 0xfe]) }))).toBe('iot_sensor_data-1');
    expect(text(groupingKey({ ...base, key: undefined, value: new Uint8Array() }))).toBe('iot_sensor_data-1');
    expect(text(groupingKey({ ...base, key: undefined, value: Buffer.from('{"sensor_id":7}') }))).toBe(
      'iot_sensor_data-1',
    );
  });

  it('hashes like Kinesis hashes a partition key (MD5 as a 128-bit integer)', () => {
    const md5 = createHash('md5').update('sensor-42', 'utf8').digest('hex');
    expect(explicitHashKey(Buffer.from('sensor-42'))).toBe(BigInt(`0x${md5}`).toString());
    expect(BigInt(explicitHashKey(Buffer.from([0xff])))).toBeLessThan(2n ** 128n);
  });
});

it('names a record in a partial batch response as <topic>-<partition>-<offset>', () => {
  expect(kafkaItemIdentifier({ topic: 'iot_sensor_data', partition: 0, offset: '42' })).toBe('iot_sensor_data-0-42');
});
