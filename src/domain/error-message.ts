/**
 * The message format of the errors queue, written by the validator and read by the DLQ
 * drainer: `{"v":2,"errors":[…]}`, many rejections per SQS message.
 *
 * Why many: with the producer's fault mix a third of all records are rejected; one message
 * each made the validator spend most of a batch in SendMessageBatch calls (bench: ingest rose
 * from 0.31 to 0.41 of raw COPY with packing) and the drainer run once per rejection. Messages
 * stay at or under {@link MESSAGE_TARGET_BYTES}, so a message the drainer cannot land holds
 * back, and redrives, a bounded number of rejections; SQS also bills per 64 KiB.
 *
 * The body is ASCII-only JSON: SQS refuses some Unicode code points (U+FFFE, U+FFFF, most
 * control characters), and a rejection may quote anything a sensor sent. The raw bytes travel
 * as base64, so the drainer stores exactly what was received.
 */
import { z } from 'zod';
import { asciiJson } from './ascii-json.js';
import { ERROR_TYPES, type ErrorRecord } from './reading.js';

export const ERROR_MESSAGE_VERSION = 2;

/** Size a message is filled up to; one rejection larger than this travels alone. */
export const MESSAGE_TARGET_BYTES = 64 * 1024;

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

const rejectionSchema = z.object({
  errorType: z.enum(ERROR_TYPES),
  errorMessage: z.string(),
  raw: z.base64(),
  rawSize: z.number().int().nonnegative(),
  sensorId: z.string().nullable(),
  readingId: z.guid().nullable(),
  streamName: z.string().min(1).max(256),
  shardId: z.string().min(1).max(256),
  sequenceNumber: z.string().min(1).max(300),
  partitionKey: z.string().max(1024).nullable(),
  arrivalTime: isoDate.nullable(),
  errorTime: isoDate,
});

function encodeRejection(error: ErrorRecord): string {
  return asciiJson({
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

export interface ErrorMessage {
  readonly records: readonly ErrorRecord[];
  /** ASCII, so its length is its size in bytes. */
  readonly body: string;
}

const envelope = (parts: readonly string[]): string => `{"v":${ERROR_MESSAGE_VERSION},"errors":[${parts.join(',')}]}`;
const ENVELOPE_BYTES = envelope([]).length;

/**
 * Packs rejections as they come, in order, into message bodies of at most `targetBytes`: `add`
 * answers a message as soon as it is full (the next rejection would not fit), so a caller can
 * send it while it is still finding the others; `flush` answers the last, partial one.
 */
export class ErrorMessagePacker {
  private records: ErrorRecord[] = [];
  private parts: string[] = [];
  private bytes = ENVELOPE_BYTES;

  constructor(private readonly targetBytes = MESSAGE_TARGET_BYTES) {}

  /** Adds one rejection; answers the message it completed, if any (the rejection starts the next). */
  add(error: ErrorRecord): ErrorMessage | undefined {
    const part = encodeRejection(error);
    const full = this.parts.length > 0 && this.bytes + part.length + 1 > this.targetBytes ? this.flush() : undefined;
    this.records.push(error);
    this.parts.push(part);
    this.bytes += part.length + 1;
    return full;
  }

  /** The message of the rejections added since the last one answered, if any. */
  flush(): ErrorMessage | undefined {
    if (this.parts.length === 0) return undefined;
    const message = { records: this.records, body: envelope(this.parts) };
    this.records = [];
    this.parts = [];
    this.bytes = ENVELOPE_BYTES;
    return message;
  }
}

/** Packs rejections, in order, into message bodies of at most {@link MESSAGE_TARGET_BYTES}. */
export function packErrorMessages(errors: readonly ErrorRecord[], targetBytes = MESSAGE_TARGET_BYTES): ErrorMessage[] {
  const packer = new ErrorMessagePacker(targetBytes);
  const messages: ErrorMessage[] = [];
  for (const error of errors) {
    const full = packer.add(error);
    if (full) messages.push(full);
  }
  const last = packer.flush();
  if (last) messages.push(last);
  return messages;
}

/**
 * Version 1 carried one rejection per message, its fields at the top level. Still read, so
 * messages queued before an upgrade land instead of ending in the DLQ.
 */
const LEGACY_VERSION = 1;

/** True when the body looks like one of ours (cheap check before a full parse). */
export function isErrorMessage(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const v = (body as { v?: unknown }).v;
  return (
    (v === ERROR_MESSAGE_VERSION && Array.isArray((body as { errors?: unknown }).errors)) ||
    (v === LEGACY_VERSION && 'errorType' in body)
  );
}

const errorMessageSchema = z.union([
  z.object({ v: z.literal(ERROR_MESSAGE_VERSION), errors: z.array(rejectionSchema).min(1) }),
  rejectionSchema.extend({ v: z.literal(LEGACY_VERSION) }).transform((single) => ({ errors: [single] })),
]);

/** Parses an already JSON-decoded body; throws a ZodError naming the bad fields. */
export function decodeErrorMessage(body: unknown): ErrorRecord[] {
  return errorMessageSchema.parse(body).errors.map((m) => ({
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
  }));
}
