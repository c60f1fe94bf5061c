import { describe, expect, it } from 'vitest';
import { DEFAULT_PAYLOAD_CAP_BYTES, type ErrorRecord, type ReadingRow } from '#domain/reading.js';
import { type Classification, classifyRecord } from '#domain/validation.js';
import { aPosition, aReading, encode } from '../support/factories.js';

const now = new Date('2026-11-26T12:01:00Z');
const options = { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now };

function classify(payload: unknown, opts = options): Classification {
  const data = payload instanceof Uint8Array ? payload : encode(payload);
  return classifyRecord(data, aPosition(), opts);
}

function errorOf(payload: unknown, opts = options): ErrorRecord {
  const result = classify(payload, opts);
  if (result.kind !== 'error') throw new Error(`expected a rejection, got a reading`);
  return result.error;
}

function rowOf(payload: unknown): ReadingRow {
  const result = classify(payload);
  if (result.kind !== 'reading')
    throw new Error(`expected a reading, got ${result.error.errorType}: ${result.error.errorMessage}`);
  return result.row;
}

describe('classifyRecord: each rule', () => {
  it('accepts a valid reading and keeps its fields and stream position', () => {
    const position = aPosition({ partitionKey: 'temp-0001' });
    const reading = aReading();
    const result = classifyRecord(encode(reading), position, options);
    expect(result.kind).toBe('reading');
    if (result.kind !== 'reading') return;
    expect(result.row).toMatchObject({
      readingId: reading.reading_id,
      sensorId: 'temp-0001',
      sensorType: 'temperature',
      value: 21.5,
      unit: '°C',
      min: -40,
      max: 85,
      status: 'active',
      eventTime: '2026-11-26T12:00:30Z',
      processingTime: now,
      position,
    });
  });

  it('PAYLOAD_TOO_LARGE above the cap, keeping the first cap bytes and the full size', () => {
    const big = encode(aReading({ model: 'x'.repeat(200) }));
    const error = errorOf(big, { ...options, payloadCapBytes: 100 });
    expect(error.errorType).toBe('PAYLOAD_TOO_LARGE');
    expect(error.rawSize).toBe(big.length);
    expect(Buffer.from(error.rawBytes)).toEqual(Buffer.from(big.subarray(0, 100)));
  });

  it('a record exactly at the cap is not too large', () => {
    const data = encode(aReading());
    expect(classify(data, { ...options, payloadCapBytes: data.length }).kind).toBe('reading');
  });

  it.each([
    ['malformed JSON', encode('{"sensor_id": "a",')],
    ['invalid UTF-8', Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])],
    ['a JSON array', encode('[1,2]')],
    ['JSON null', encode('null')],
    ['a JSON string', encode('"hello"')],
    ['empty bytes', new Uint8Array()],
  ])('JSON_PARSE_ERROR for %s', (_label, data) => {
    expect(errorOf(data).errorType).toBe('JSON_PARSE_ERROR');
  });

  it.each([
    ['sensor_id missing', { sensor_id: undefined }, 'sensor_id'],
    ['sensor_id empty', { sensor_id: '' }, 'sensor_id'],
    ['sensor_id longer than 128', { sensor_id: 's'.repeat(129) }, 'sensor_id'],
    ['unknown sensor_type', { sensor_type: 'voltage' }, 'sensor_type'],
    ['value missing', { value: undefined }, 'value'],
    ['value a string', { value: '21.5' }, 'value'],
    ['min a string', { min: '0' }, 'min'],
    ['max missing', { max: undefined }, 'max'],
    ['min == max', { min: 10, max: 10, value: 10 }, 'min'],
    ['min > max', { min: 10, max: 0, value: 5 }, 'min'],
    ['a range too wide to normalize', { min: -1.7e308, max: 1.7e308, value: 0 }, 'max'],
    ['a timestamp without offset', { timestamp: '2026-11-26T12:00:30' }, 'timestamp'],
    ['a timestamp on 30 February', { timestamp: '2026-02-30T12:00:30Z' }, 'timestamp'],
    ['a timestamp that is not a date', { timestamp: 'yesterday' }, 'timestamp'],
    ['a numeric timestamp', { timestamp: 1_795_000_000 }, 'timestamp'],
    ['status missing', { status: undefined }, 'status'],
    ['a NUL in a string field', { model: 'T\u0000100' }, 'model'],
    ['a lone surrogate in a string field', { manufacturer: 'Ac\ud800me' }, 'manufacturer'],
    ['a reading_id that is not a UUID', { reading_id: 'abc' }, 'reading_id'],
  ])('SCHEMA_ERROR for %s, naming the field', (_label, overrides, field) => {
    const error = errorOf(aReading(overrides));
    expect(error.errorType).toBe('SCHEMA_ERROR');
    expect(error.errorMessage).toContain(field);
  });

  it('SCHEMA_ERROR for a number that overflows to Infinity', () => {
    const text = JSON.stringify(aReading()).replace('"value":21.5', '"value":1e400');
    expect(errorOf(text).errorType).toBe('SCHEMA_ERROR');
  });

  it('INACTIVE_SENSOR for any status other than "active"', () => {
    for (const status of ['maintenance', 'Active', 'offline', '']) {
      expect(errorOf(aReading({ status })).errorType).toBe('INACTIVE_SENSOR');
    }
  });

  it('NULL_VALUE, BELOW_MIN and ABOVE_MAX', () => {
    expect(errorOf(aReading({ value: null })).errorType).toBe('NULL_VALUE');
    expect(errorOf(aReading({ value: -40.0001 })).errorType).toBe('BELOW_MIN');
    expect(errorOf(aReading({ value: 85.0001 })).errorType).toBe('ABOVE_MAX');
  });

  it('boundaries are valid: value == min and value == max', () => {
    expect(rowOf(aReading({ value: -40 })).normalizedValue).toBe(0);
    expect(rowOf(aReading({ value: 85 })).normalizedValue).toBe(1);
  });

  it('accepts offsets, fractions of a second and a missing or null reading_id', () => {
    expect(rowOf(aReading({ timestamp: '2026-11-26T09:00:30.123456-03:00' })).eventTime).toBe(
      '2026-11-26T09:00:30.123456-03:00',
    );
    expect(rowOf(aReading({ timestamp: '2028-02-29T00:00:00+05:30' })).sensorId).toBe('temp-0001');
    expect(rowOf(aReading({ reading_id: undefined })).readingId).toBeNull();
    expect(rowOf(aReading({ reading_id: null })).readingId).toBeNull();
  });

  it('ignores unknown extra fields', () => {
    expect(rowOf(aReading({ firmware: '1.2.3' })).sensorId).toBe('temp-0001');
  });
});

describe('classifyRecord: precedence when a record has several faults', () => {
  it.each([
    ['too large beats broken JSON', encode('{'.repeat(300)), 'PAYLOAD_TOO_LARGE', 200],
    [
      'schema beats inactive and null',
      aReading({ sensor_type: 'x', status: 'maintenance', value: null }),
      'SCHEMA_ERROR',
      undefined,
    ],
    ['inactive beats null value', aReading({ status: 'maintenance', value: null }), 'INACTIVE_SENSOR', undefined],
    ['inactive beats below min', aReading({ status: 'maintenance', value: -100 }), 'INACTIVE_SENSOR', undefined],
    ['inactive beats above max', aReading({ status: 'maintenance', value: 1000 }), 'INACTIVE_SENSOR', undefined],
  ] as const)('%s', (_label, payload, expected, cap) => {
    expect(errorOf(payload, cap ? { ...options, payloadCapBytes: cap } : options).errorType).toBe(expected);
  });
});

describe('normalization and alerts', () => {
  const at = (value: number) => rowOf(aReading({ min: 0, max: 100, value }));

  it('normalizes into [0, 1] by the sensor range', () => {
    expect(at(25).normalizedValue).toBe(0.25);
    expect(rowOf(aReading({ min: -40, max: 85, value: 22.5 })).normalizedValue).toBe(0.5);
  });

  it('high alert at and above 0.9, low alert at and below 0.1, neither between', () => {
    expect(at(90)).toMatchObject({ highAlert: true, lowAlert: false });
    expect(at(89.99)).toMatchObject({ highAlert: false, lowAlert: false });
    expect(at(10)).toMatchObject({ highAlert: false, lowAlert: true });
    expect(at(10.01)).toMatchObject({ highAlert: false, lowAlert: false });
    expect(at(100)).toMatchObject({ highAlert: true, lowAlert: false });
    expect(at(0)).toMatchObject({ highAlert: false, lowAlert: true });
  });

  it('stays within [0, 1] for extreme but finite ranges', () => {
    const row = rowOf(aReading({ min: -8e307, max: 8e307, value: 8e307 }));
    expect(row.normalizedValue).toBeLessThanOrEqual(1);
    expect(row.normalizedValue).toBeGreaterThanOrEqual(0);
  });
});

describe('error records', () => {
  it('keep the exact bytes, the size, the sensor_id and reading_id when readable', () => {
    const reading = aReading({ status: 'maintenance', sensor_id: 'hum-0042' });
    const data = encode(reading);
    const error = errorOf(data);
    expect(Buffer.from(error.rawBytes)).toEqual(Buffer.from(data));
    expect(error.rawSize).toBe(data.length);
    expect(error.sensorId).toBe('hum-0042');
    expect(error.readingId).toBe(reading.reading_id);
    expect(error.errorMessage).toContain('maintenance');
    expect(error.errorTime).toEqual(now);
  });

  it('have no sensor_id when it cannot be read', () => {
    expect(errorOf(encode('not json')).sensorId).toBeNull();
    expect(errorOf(aReading({ sensor_id: 42 })).sensorId).toBeNull();
  });

  it('make an unreadable sensor_id storable rather than dropping the record', () => {
    const error = errorOf(aReading({ sensor_id: 'a\u0000b', status: 'maintenance' }));
    expect(error.errorType).toBe('SCHEMA_ERROR');
    expect(error.sensorId).toBe('a\uFFFDb');
  });

  it('cap very long messages', () => {
    const error = errorOf(aReading({ status: 'x'.repeat(10_000) }));
    expect(error.errorType).toBe('INACTIVE_SENSOR');
    expect(error.errorMessage.length).toBeLessThanOrEqual(2_000);
  });
});
