/**
 * The identity rule of the MQTT door: which door a partition key names, and how the validator
 * treats a reading whose sensor_id is not the identity of the device that sent it, including
 * where the rule stands among the others (DESIGN.md section 3).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PAYLOAD_CAP_BYTES, type ErrorRecord } from '#domain/reading.js';
import { isThingName, mqttPartitionKey, parseRecordOrigin, senderIdentity } from '#domain/record-origin.js';
import { type Classification, classifyRecord } from '#domain/validation.js';
import { aPosition, aReading, encode } from '../support/factories.js';

const options = { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now: new Date('2026-11-26T12:01:00Z') };

function fromDevice(identity: string, payload: unknown, payloadCapBytes = DEFAULT_PAYLOAD_CAP_BYTES): Classification {
  const data = payload instanceof Uint8Array ? payload : encode(payload);
  return classifyRecord(data, aPosition({ partitionKey: mqttPartitionKey(identity) }), { ...options, payloadCapBytes });
}

function rejected(result: Classification): ErrorRecord {
  if (result.kind !== 'error') throw new Error('expected a rejection, got a reading');
  return result.error;
}

describe('parseRecordOrigin', () => {
  it('reads the device identity after the mqtt: prefix', () => {
    expect(parseRecordOrigin('mqtt:temp-0001')).toEqual({ door: 'mqtt', identity: 'temp-0001' });
    expect(parseRecordOrigin('mqtt:a:b')).toEqual({ door: 'mqtt', identity: 'a:b' });
    expect(senderIdentity(parseRecordOrigin('mqtt:temp-0001'))).toBe('temp-0001');
  });

  it('an mqtt: key without an identity is still the MQTT door, with an empty identity (fail closed)', () => {
    expect(parseRecordOrigin('mqtt:')).toEqual({ door: 'mqtt', identity: '' });
  });

  it('kafka: keys belong to the Kafka door; any other key (or none) claims nothing', () => {
    expect(parseRecordOrigin('kafka:readings/0/42')).toEqual({ door: 'kafka', key: 'readings/0/42' });
    expect(parseRecordOrigin('temp-0001')).toEqual({ door: 'none' });
    expect(parseRecordOrigin('MQTT:temp-0001')).toEqual({ door: 'none' });
    expect(parseRecordOrigin(null)).toEqual({ door: 'none' });
    expect(senderIdentity(parseRecordOrigin('temp-0001'))).toBeNull();
  });

  it('mqttPartitionKey is its inverse', () => {
    expect(parseRecordOrigin(mqttPartitionKey('hum-0002'))).toEqual({ door: 'mqtt', identity: 'hum-0002' });
  });

  it('thing names: 1 to 128 of [a-zA-Z0-9:_-], so no MQTT wildcard or level separator', () => {
    expect(isThingName('temp-0001')).toBe(true);
    expect(isThingName('a:b_c-D9')).toBe(true);
    expect(isThingName('x'.repeat(128))).toBe(true);
    for (const bad of ['', 'x'.repeat(129), 'a/b', 'a+b', 'a#', 'a b', 'é', '../x'])
      expect(isThingName(bad), JSON.stringify(bad)).toBe(false);
  });
});

describe('classifyRecord: the identity rule', () => {
  it('accepts a reading whose sensor_id is the sending device', () => {
    const result = fromDevice('temp-0001', aReading({ sensor_id: 'temp-0001' }));
    expect(result.kind).toBe('reading');
  });

  it('rejects a reading that names another sensor, with both ids in the reason and the sender as sensor_id', () => {
    const reading = aReading({ sensor_id: 'temp-0002' });
    const error = rejected(fromDevice('temp-0001', reading));
    expect(error.errorType).toBe('IDENTITY_MISMATCH');
    expect(error.errorMessage).toContain('"temp-0002"');
    expect(error.errorMessage).toContain('"temp-0001"');
    expect(error.sensorId).toBe('temp-0001');
    expect(error.readingId).toBe(reading.reading_id);
    expect(error.position.partitionKey).toBe('mqtt:temp-0001');
    expect(Buffer.from(error.rawBytes).toString()).toBe(JSON.stringify(reading));
  });

  it('compares exactly: case and surrounding spaces count', () => {
    expect(rejected(fromDevice('temp-0001', aReading({ sensor_id: 'TEMP-0001' }))).errorType).toBe('IDENTITY_MISMATCH');
    expect(rejected(fromDevice('temp-0001', aReading({ sensor_id: 'temp-0001 ' }))).errorType).toBe(
      'IDENTITY_MISMATCH',
    );
  });

  it('an empty identity matches no reading', () => {
    const error = rejected(fromDevice('', aReading()));
    expect(error.errorType).toBe('IDENTITY_MISMATCH');
    expect(error.errorMessage).toContain('without a device identity');
    expect(error.sensorId).toBeNull();
  });

  it('does not apply to records without a door (the producer), nor to the Kafka door', () => {
    for (const partitionKey of ['temp-0001', 'temp-0002', 'kafka:t/0/1']) {
      const result = classifyRecord(encode(aReading({ sensor_id: 'temp-0002' })), aPosition({ partitionKey }), options);
      expect(result.kind, partitionKey).toBe('reading');
    }
  });

  it("keeps the device's identity as sensor_id on its other rejections too", () => {
    const inactive = rejected(fromDevice('temp-0001', aReading({ sensor_id: 'temp-0001', status: 'maintenance' })));
    expect(inactive).toMatchObject({ errorType: 'INACTIVE_SENSOR', sensorId: 'temp-0001' });
    const unparsable = rejected(fromDevice('temp-0001', encode('{"sensor_id": "temp-0002", ')));
    expect(unparsable).toMatchObject({ errorType: 'JSON_PARSE_ERROR', sensorId: 'temp-0001' });
  });
});

describe('classifyRecord: where the identity rule stands', () => {
  it('after PAYLOAD_TOO_LARGE and JSON_PARSE_ERROR: the claim cannot be read before', () => {
    const big = encode(aReading({ sensor_id: 'temp-0002', model: 'x'.repeat(500) }));
    expect(rejected(fromDevice('temp-0001', big, 200)).errorType).toBe('PAYLOAD_TOO_LARGE');
    expect(rejected(fromDevice('temp-0001', encode('{"sensor_id":"temp-0002"'))).errorType).toBe('JSON_PARSE_ERROR');
    expect(rejected(fromDevice('temp-0001', encode('["temp-0002"]'))).errorType).toBe('JSON_PARSE_ERROR');
  });

  it('before SCHEMA_ERROR: a broken record that names another sensor is still an impersonation', () => {
    const broken = aReading({ sensor_id: 'temp-0002', sensor_type: 'voltage', timestamp: 'yesterday' });
    expect(rejected(fromDevice('temp-0001', broken)).errorType).toBe('IDENTITY_MISMATCH');
    // The same record with its own id is a schema error.
    expect(rejected(fromDevice('temp-0001', { ...broken, sensor_id: 'temp-0001' })).errorType).toBe('SCHEMA_ERROR');
  });

  it('a sensor_id that is missing or not a string claims nobody: SCHEMA_ERROR', () => {
    const { sensor_id: _dropped, ...withoutId } = aReading();
    expect(rejected(fromDevice('temp-0001', withoutId)).errorType).toBe('SCHEMA_ERROR');
    expect(rejected(fromDevice('temp-0001', aReading({ sensor_id: 42 }))).errorType).toBe('SCHEMA_ERROR');
    expect(rejected(fromDevice('temp-0001', aReading({ sensor_id: null }))).errorType).toBe('SCHEMA_ERROR');
  });

  it('before the business rules: INACTIVE_SENSOR, NULL_VALUE, BELOW_MIN, ABOVE_MAX', () => {
    for (const fault of [{ status: 'maintenance' }, { value: null }, { value: -100 }, { value: 100 }]) {
      const error = rejected(fromDevice('temp-0001', aReading({ sensor_id: 'temp-0002', ...fault })));
      expect(error.errorType, JSON.stringify(fault)).toBe('IDENTITY_MISMATCH');
    }
  });
});
