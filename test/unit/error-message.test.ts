import { describe, expect, it } from 'vitest';
import { packByCountAndBytes } from '#adapters/batching.js';
import { decodeErrorMessage, isErrorMessage, MESSAGE_TARGET_BYTES, packErrorMessages } from '#domain/error-message.js';
import { compareSequenceNumbers, isFailureNotice, parseFailureNotice } from '#domain/failure-notice.js';
import { simulate } from '#domain/fleet.js';
import { DEFAULT_PAYLOAD_CAP_BYTES, type ErrorRecord } from '#domain/reading.js';
import { classifyRecord } from '#domain/validation.js';
import { aPosition, aReading, encode } from '../support/factories.js';

const now = new Date('2026-11-26T12:01:00Z');

function rejectionOf(data: Uint8Array) {
  const result = classifyRecord(data, aPosition(), { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now });
  if (result.kind !== 'error') throw new Error('expected a rejection');
  return result.error;
}

function bodyOf(errors: Parameters<typeof packErrorMessages>[0]): string {
  const messages = packErrorMessages(errors);
  expect(messages).toHaveLength(1);
  return (messages[0] as { body: string }).body;
}

describe('errors queue message format', () => {
  it('round-trips rejections exactly, bytes included', () => {
    const data = Uint8Array.from([0xff, 0x00, 0x7b, 0xef, 0xbf, 0xbf, 0x0a]);
    const errors = [rejectionOf(data), rejectionOf(encode('{"a":'))];
    const decoded = decodeErrorMessage(JSON.parse(bodyOf(errors)));
    expect(decoded).toEqual(errors.map((e) => ({ ...e, rawBytes: Buffer.from(e.rawBytes) })));
  });

  it('is ASCII only, so SQS accepts any content (U+FFFF, control characters, emoji)', () => {
    const error = rejectionOf(encode(aReading({ status: '\uffff\u0001 🔥 manutenção' })));
    const body = bodyOf([error]);
    expect(/^[\x20-\x7e]*$/.test(body)).toBe(true);
    expect(decodeErrorMessage(JSON.parse(body))[0]?.errorMessage).toBe(error.errorMessage);
  });

  it('packs rejections in order into messages of at most the target size; a larger one travels alone', () => {
    const small = Array.from({ length: 300 }, (_, i) => rejectionOf(encode(`not json ${i} ${'x'.repeat(200)}`)));
    const huge = rejectionOf(encode('y'.repeat(70_000)));
    const messages = packErrorMessages([...small.slice(0, 150), huge, ...small.slice(150)]);
    expect(messages.flatMap((m) => m.records)).toEqual([...small.slice(0, 150), huge, ...small.slice(150)]);
    const alone = messages.find((m) => m.records.includes(huge));
    expect(alone?.records).toEqual([huge]);
    for (const m of messages) {
      if (m !== alone) expect(m.body.length).toBeLessThanOrEqual(MESSAGE_TARGET_BYTES);
      expect(decodeErrorMessage(JSON.parse(m.body))).toHaveLength(m.records.length);
    }
    expect(messages.length).toBeLessThan(10);
  });

  it('every message fits SQS (256 KiB of UTF-8) even at the largest cap the configuration accepts', () => {
    // SQS's own limit (Amazon SQS quotas), not the code's target: a larger body is refused by
    // SendMessage and the rejection would be lost.
    const SQS_MAX_MESSAGE_BYTES = 256 * 1024;
    const LARGEST_CAP = 128 * 1024; // the largest PAYLOAD_CAP_BYTES src/config/env.ts accepts
    const worst = (seed: number) => {
      // A 1 MiB Kinesis record of bytes that are not UTF-8 and need JSON escaping when shown.
      const data = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7919 + seed) % 256);
      const result = classifyRecord(data, aPosition(), { payloadCapBytes: LARGEST_CAP, now });
      if (result.kind !== 'error') throw new Error('expected a rejection');
      return result.error;
    };
    const messages = packErrorMessages([worst(1), worst(2), worst(3)]);
    expect(messages.flatMap((m) => m.records)).toHaveLength(3);
    for (const m of messages) expect(Buffer.byteLength(m.body, 'utf8')).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
  });

  it('still reads version 1 (one rejection per message), so messages queued before an upgrade land', () => {
    const error = rejectionOf(encode('legacy'));
    const v2 = JSON.parse(bodyOf([error]));
    const v1 = { v: 1, ...v2.errors[0] };
    expect(isErrorMessage(v1)).toBe(true);
    expect(decodeErrorMessage(v1)).toEqual([{ ...error, rawBytes: Buffer.from(error.rawBytes) }]);
  });

  it('is recognised, and other bodies are not', () => {
    const body = JSON.parse(bodyOf([rejectionOf(encode('x'))]));
    expect(isErrorMessage(body)).toBe(true);
    expect(isErrorMessage({ hello: 1 })).toBe(false);
    expect(() => decodeErrorMessage({ ...body, errors: [{ ...body.errors[0], errorType: 'NOPE' }] })).toThrow(
      /errorType/,
    );
  });
});

describe('failed-batch notices', () => {
  const notice = {
    requestContext: {
      requestId: 'r',
      functionArn: 'arn',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 6,
    },
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
    expect(() =>
      parseFailureNotice({ KinesisBatchInfo: { ...notice.KinesisBatchInfo, startSequenceNumber: 'x' } }),
    ).toThrow();
  });

  it('compare sequence numbers numerically, beyond 2^53', () => {
    expect(
      compareSequenceNumbers(
        '49600000000000000000000000000000000000000000000000000002',
        '49600000000000000000000000000000000000000000000000000010',
      ),
    ).toBe(-1);
    expect(compareSequenceNumbers('9', '10')).toBe(-1);
    expect(compareSequenceNumbers('10', '10')).toBe(0);
  });
});

/**
 * The body the drainer and the messages already queued rely on, written out independently of
 * the packer: `JSON.stringify` of each rejection as an object, every non-ASCII unit then
 * escaped. Packing incrementally (ErrorMessagePacker) must not change a byte of it.
 */
function referenceBody(errors: readonly ErrorRecord[]): string {
  const parts = errors.map((e) =>
    JSON.stringify({
      errorType: e.errorType,
      errorMessage: e.errorMessage,
      raw: Buffer.from(e.rawBytes).toString('base64'),
      rawSize: e.rawSize,
      sensorId: e.sensorId,
      readingId: e.readingId,
      streamName: e.position.streamName,
      shardId: e.position.shardId,
      sequenceNumber: e.position.sequenceNumber,
      partitionKey: e.position.partitionKey,
      arrivalTime: e.position.arrivalTime?.toISOString() ?? null,
      errorTime: e.errorTime.toISOString(),
    }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
  return `{"v":2,"errors":[${parts.join(',')}]}`;
}

describe('the packed body', () => {
  it("is byte for byte the version-2 encoding: the producer's rejections and every awkward string", () => {
    const { records } = simulate({ count: 600, sensors: 50, seed: 3, startTime: now, intervalMs: 2_000 });
    const produced = records.flatMap((r, i) => {
      const result = classifyRecord(
        r.data,
        aPosition({ partitionKey: r.partitionKey, arrivalTime: new Date(now.getTime() + i) }),
        {
          payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES,
          now,
        },
      );
      return result.kind === 'error' ? [result.error] : [];
    });
    expect(produced.length).toBeGreaterThan(100);
    const awkward = [
      rejectionOf(encode(aReading({ status: 'quote " backslash \\ tab \t newline \n ünïcødé \u2028 🔥' }))),
      rejectionOf(encode(aReading({ sensor_id: 'sénsor "1"', status: 'off' }))),
      { ...rejectionOf(encode('{')), sensorId: null, readingId: null },
      {
        ...rejectionOf(encode('[]')),
        position: {
          ...aPosition(),
          partitionKey: null,
          arrivalTime: null,
          streamName: 'strëam',
          shardId: 'shard\u0001',
        },
      },
    ];
    for (const errors of [produced, awkward]) {
      const messages = packErrorMessages(errors, Number.POSITIVE_INFINITY);
      expect(messages).toHaveLength(1);
      expect(messages[0]?.body).toBe(referenceBody(errors));
    }
  });
});

describe('batch packing by count and bytes', () => {
  it('keeps at most the item and byte limits per group, in order', () => {
    const entries = Array.from({ length: 25 }, (_, i) => ({ id: i, body: 'x'.repeat(i < 12 ? 100 : 90 * 1024) }));
    const groups = packByCountAndBytes(entries, (e) => e.body.length, { maxItems: 10, maxBytes: 256 * 1024 });
    expect(groups.flat().map((e) => e.id)).toEqual(entries.map((e) => e.id));
    for (const group of groups) {
      expect(group.length).toBeLessThanOrEqual(10);
      expect(group.reduce((n, e) => n + e.body.length, 0)).toBeLessThanOrEqual(256 * 1024);
    }
    expect(groups[0]).toHaveLength(10);
  });
});
