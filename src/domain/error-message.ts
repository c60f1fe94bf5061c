/**
 * The message format of the errors queue: one rejected record per SQS message, written by the
 * validator and read by the DLQ drainer.
 *
 * The body is ASCII-only JSON: SQS refuses some Unicode code points (U+FFFE, U+FFFF, most
 * control characters), and a rejection may quote anything a sensor sent. The raw bytes travel
 * as base64, so the drainer stores exactly what was received.
 */
import { z } from 'zod';
import { ERROR_TYPES, type ErrorRecord } from './reading.js';

export const ERROR_MESSAGE_VERSION = 1;

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

const errorMessageSchema = z.object({
  v: z.literal(ERROR_MESSAGE_VERSION),
  errorType: z.enum(ERROR_TYPES),
  errorMessage: z.string(),
  raw: z.base64(),
  rawSize: z.number().int().nonnegative(),
  sensorId: z.string().nullable(),
  readingId: z.string().nullable(),
  streamName: z.string().min(1),
  shardId: z.string().min(1),
  sequenceNumber: z.string().min(1),
  partitionKey: z.string().nullable(),
  arrivalTime: isoDate.nullable(),
  errorTime: isoDate,
});

/** Escapes every non-ASCII UTF-16 unit as \uXXXX; JSON.parse reverses it exactly. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function encodeErrorMessage(error: ErrorRecord): string {
  return asciiJson({
    v: ERROR_MESSAGE_VERSION,
    errorType: error.errorType,
    errorMessage: error.errorMessage,
    raw: Buffer.from(error.rawBytes.buffer, error.rawBytes.byteOffset, error.rawBytes.byteLength).toString('base64'),
    rawSize: error.rawSize,
    sensorId: error.sensorId,
    readingId: error.readingId,
    streamName: error.position.streamName,
    shardId: error.position.shardId,
    sequenceNumber: error.position.sequenceNumber,
    partitionKey: error.position.partitionKey,
    arrivalTime: error.position.arrivalTime?.toISOString() ?? null,
    errorTime: error.errorTime.toISOString(),
  });
}

/** True when the body looks like one of ours (cheap check before a full parse). */
export function isErrorMessage(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { v?: unknown }).v === ERROR_MESSAGE_VERSION && 'errorType' in body;
}

/** Parses an already JSON-decoded body; throws a ZodError naming the bad fields. */
export function decodeErrorMessage(body: unknown): ErrorRecord {
  const m = errorMessageSchema.parse(body);
  return {
    errorType: m.errorType,
    errorMessage: m.errorMessage,
    rawBytes: Buffer.from(m.raw, 'base64'),
    rawSize: m.rawSize,
    sensorId: m.sensorId,
    readingId: m.readingId,
    position: {
      streamName: m.streamName,
      shardId: m.shardId,
      sequenceNumber: m.sequenceNumber,
      partitionKey: m.partitionKey,
      arrivalTime: m.arrivalTime,
    },
    errorTime: m.errorTime,
  };
}
