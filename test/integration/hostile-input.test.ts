import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSqs } from '../support/emulators.js';
import { aReading, encode, kinesisEvent, lambdaContext, sqsEvent } from '../support/factories.js';
import { type IngestHandlers, startIngestHandlers } from '../support/ingest-handlers.js';

let parts: IngestHandlers;
let sqs: RunningSqs;
let queueUrl: string;
let db: pg.Pool;
let validator: IngestHandlers['validator'];
let drainer: IngestHandlers['drainer'];

beforeAll(async () => {
  parts = await startIngestHandlers({ database: 'hostile' });
  ({ sqs, db, errorsQueueUrl: queueUrl, validator, drainer } = parts);
});
afterAll(async () => parts?.stop());

/** Deterministic pseudo-random bytes (xorshift), so a failure can be reproduced. */
function randomBytes(n: number, seed: number): Uint8Array {
  let x = seed;
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x & 0xff;
  });
}

const validText = JSON.stringify(aReading({ reading_id: undefined }));
const hostile: [string, Uint8Array, string][] = [
  ['random bytes', randomBytes(512, 7), 'JSON_PARSE_ERROR'],
  [
    'invalid UTF-8 inside a valid reading',
    Buffer.concat([encode(validText.slice(0, 20)), Buffer.from([0xc3, 0x28]), encode(validText.slice(20))]),
    'JSON_PARSE_ERROR',
  ],
  ['a NUL byte inside a string', encode(validText.replace('"Acme"', '"Ac\\u0000me"')), 'SCHEMA_ERROR'],
  ['a raw NUL byte', Buffer.concat([encode(validText), Buffer.from([0])]), 'JSON_PARSE_ERROR'],
  [
    'an oversized payload',
    encode(JSON.stringify(aReading({ reading_id: undefined, model: 'm'.repeat(70_000) }))),
    'PAYLOAD_TOO_LARGE',
  ],
  ['deeply nested JSON', encode('['.repeat(30_000) + ']'.repeat(30_000)), 'JSON_PARSE_ERROR'],
  [
    'deeply nested JSON inside a reading',
    encode(validText.replace('"T-100"', '['.repeat(10_000) + ']'.repeat(10_000))),
    'SCHEMA_ERROR',
  ],
  [
    'numbers as strings',
    encode(JSON.stringify(aReading({ reading_id: undefined, value: '21.5', min: '-40' }))),
    'SCHEMA_ERROR',
  ],
  ['a NaN literal', encode(validText.replace('21.5', 'NaN')), 'JSON_PARSE_ERROR'],
  ['an Infinity literal', encode(validText.replace('21.5', 'Infinity')), 'JSON_PARSE_ERROR'],
  ['a number that overflows', encode(validText.replace('21.5', '1e999')), 'SCHEMA_ERROR'],
  ['required fields only under __proto__', encode(`{"__proto__": ${validText}}`), 'SCHEMA_ERROR'],
  [
    'a __proto__ key on an inactive reading',
    encode(
      validText
        .replace('"status":"active"', '"status":"maintenance"')
        .replace('{', '{"__proto__": {"status": "active"},'),
    ),
    'INACTIVE_SENSOR',
  ],
  [
    'extra fields on a sensor in maintenance',
    encode(JSON.stringify(aReading({ reading_id: undefined, status: 'maintenance', extra: { a: [1, 2] } }))),
    'INACTIVE_SENSOR',
  ],
  ['an empty record', new Uint8Array(), 'JSON_PARSE_ERROR'],
  [
    'a multi-kilobyte unit (would overflow the index row limit)',
    encode(
      JSON.stringify(
        aReading({
          reading_id: undefined,
          unit: Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join(''),
        }),
      ),
    ),
    'SCHEMA_ERROR',
  ],
  ['a lone surrogate escape', encode(validText.replace('"Acme"', '"\\ud800"')), 'SCHEMA_ERROR'],
  [
    'U+FFFF and control characters in status',
    encode(validText.replace('"active"', '"\\uffff\\u0001"')),
    'INACTIVE_SENSOR',
  ],
];

describe('hostile input', () => {
  it('each hostile record ends as exactly one error row of the right type; valid neighbours land', async () => {
    // Every hostile record sits between two valid ones (a poison record in the middle).
    const payloads: Uint8Array[] = [];
    const expectedTypes: string[] = [];
    for (const [, data, type] of hostile) {
      payloads.push(encode(aReading()), data);
      expectedTypes.push(type);
    }
    payloads.push(encode(aReading()));
    const { event, sequenceNumbers } = kinesisEvent(payloads);

    const response = await validator(event, lambdaContext('validator'));
    expect(response.batchItemFailures).toEqual([]);
    const drained = await drainer(sqsEvent((await sqs.takeAll(queueUrl)).map((m) => m.body)), lambdaContext('drainer'));
    expect(drained.batchItemFailures).toEqual([]);

    const errors = await db.query<{ sequence_number: string; error_type: string; raw_size: number; stored: number }>(
      'SELECT sequence_number, error_type, raw_size, octet_length(raw_bytes) AS stored FROM sensor_errors',
    );
    const bySequence = new Map(errors.rows.map((r) => [r.sequence_number, r]));
    hostile.forEach(([label, data], i) => {
      const row = bySequence.get(sequenceNumbers[2 * i + 1] as string);
      expect({ label, type: row?.error_type, size: row?.raw_size }).toEqual({
        label,
        type: expectedTypes[i],
        size: data.length,
      });
      expect(row?.stored).toBe(Math.min(data.length, 65_536));
    });
    expect(errors.rowCount).toBe(hostile.length);
    const readings = await db.query('SELECT sequence_number FROM sensor_readings ORDER BY sequence_number');
    expect(readings.rows.map((r) => r.sequence_number)).toEqual(sequenceNumbers.filter((_, i) => i % 2 === 0));
  });
});
