import { describe, expect, it } from 'vitest';
import { decodeErrorMessage, encodeErrorMessage, isErrorMessage } from '../../src/domain/error-message.js';
import { parseFailureNotice, isFailureNotice, compareSequenceNumbers } from '../../src/domain/failure-notice.js';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '../../src/domain/reading.js';
import { classifyRecord } from '../../src/domain/validation.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, packBatches } from '../../src/adapters/sqs/error-queue.js';
import { aPosition, aReading, encode } from '../support/factories.js';

const now = new Date('2026-11-26T12:01:00Z');

function rejectionOf(data: Uint8Array) {
  const result = classifyRecord(data, aPosition(), { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now });
  if (result.kind !== 'error') throw new Error('expected a rejection');
  return result.error;
}

describe('errors queue message format', () => {
  it('round-trips a rejection exactly, bytes included', () => {
    const data = Uint8Array.from([0xff, 0x00, 0x7b, 0xef, 0xbf, 0xbf, 0x0a]);
    const error = rejectionOf(data);
    const decoded = decodeErrorMessage(JSON.parse(encodeErrorMessage(error)));
    expect(decoded).toEqual({ ...error, rawBytes: Buffer.from(data) });
  });

  it('is ASCII only, so SQS accepts any content (U+FFFF, control characters, emoji)', () => {
    const error = rejectionOf(encode(aReading({ status: '\uffff\u0001 🔥 manutenção' })));
    const body = encodeErrorMessage(error);
    expect(/^[\x20-\x7e]*$/.test(body)).toBe(true);
    expect(decodeErrorMessage(JSON.parse(body)).errorMessage).toBe(error.errorMessage);
  });

  it('is recognised, and other bodies are not', () => {
    const body = JSON.parse(encodeErrorMessage(rejectionOf(encode('x'))));
    expect(isErrorMessage(body)).toBe(true);
    expect(isErrorMessage({ hello: 1 })).toBe(false);
    expect(() => decodeErrorMessage({ ...body, errorType: 'NOPE' })).toThrow(/errorType/);
  });
});

describe('failed-batch notices', () => {
  const notice = {
    requestContext: { requestId: 'r', functionArn: 'arn', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 6 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2026-11-26T12:00:00.000Z',
    KinesisBatchInfo: {
      shardId: 'shardId-000000000001',
      startSequenceNumber: '49601',
      endSequenceNumber: '49699',
      approximateArrivalOfFirstRecord: '2026-11-26T11:59:00.000Z',
      approximateArrivalOfLastRecord: '2026-11-26T11:59:01.000Z',
      batchSize: 3,
      streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/iot_sensor_data',
    },
  };

  it('parse into the range, the stream name and the reason', () => {
    expect(isFailureNotice(notice)).toBe(true);
    expect(parseFailureNotice(notice)).toEqual({
      streamArn: notice.KinesisBatchInfo.streamArn,
      streamName: 'iot_sensor_data',
      shardId: 'shardId-000000000001',
      startSequenceNumber: '49601',
      endSequenceNumber: '49699',
      batchSize: 3,
      condition: 'RetryAttemptsExhausted',
    });
  });

  it('reject a notice without a usable range', () => {
    expect(() => parseFailureNotice({ KinesisBatchInfo: { ...notice.KinesisBatchInfo, startSequenceNumber: 'x' } })).toThrow();
  });

  it('compare sequence numbers numerically, beyond 2^53', () => {
    expect(compareSequenceNumbers('49600000000000000000000000000000000000000000000000000002', '49600000000000000000000000000000000000000000000000000010')).toBe(-1);
    expect(compareSequenceNumbers('9', '10')).toBe(-1);
    expect(compareSequenceNumbers('10', '10')).toBe(0);
  });
});

describe('SendMessageBatch packing', () => {
  it('keeps at most 10 entries and 256 KiB per batch, in order', () => {
    const entries = Array.from({ length: 25 }, (_, i) => ({ id: i, body: 'x'.repeat(i < 12 ? 100 : 90 * 1024) }));
    const batches = packBatches(entries);
    expect(batches.flat().map((e) => e.id)).toEqual(entries.map((e) => e.id));
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_ENTRIES);
      expect(batch.reduce((n, e) => n + e.body.length, 0)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    }
    expect(batches[0]).toHaveLength(10);
  });
});
