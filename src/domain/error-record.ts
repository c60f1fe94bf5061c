/**
 * Construction of rejection records. A rejection keeps the exact bytes (up to the payload cap)
 * so it can be inspected or replayed; readable text is derived from them when stored.
 */
import { type ErrorRecord, type ErrorType, isStorableText } from './reading.js';
import type { StreamPosition } from './stream.js';

const MAX_MESSAGE_CHARS = 2_000;
const MAX_SENSOR_ID_CHARS = 128;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const lossyDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Makes any string storable as PostgreSQL text: lone surrogates and NULs become U+FFFD. */
export function toStorableText(s: string): string {
  return isStorableText(s) ? s : s.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/** The bytes as readable text: invalid UTF-8 sequences and NULs become U+FFFD. */
export function readableText(bytes: Uint8Array): string {
  return toStorableText(lossyDecoder.decode(bytes));
}

export interface RejectionInput {
  readonly errorType: ErrorType;
  readonly errorMessage: string;
  readonly data: Uint8Array;
  readonly payloadCapBytes: number;
  readonly position: StreamPosition;
  /** The parsed JSON object, when parsing got that far; its ids are kept when readable. */
  readonly parsed?: Record<string, unknown> | undefined;
  /**
   * The identity a door authenticated (an MQTT device's thing name). When present it is the
   * row's sensor_id: the error belongs to the device that sent it, never to a sensor the
   * payload merely names.
   */
  readonly senderId?: string | null | undefined;
  readonly errorTime: Date;
}

export function buildErrorRecord(input: RejectionInput): ErrorRecord {
  const sensorId = input.senderId ?? input.parsed?.sensor_id;
  const readingId = input.parsed?.reading_id;
  const message = toStorableText(input.errorMessage);
  return {
    errorType: input.errorType,
    errorMessage: message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : message,
    rawBytes: input.data.length > input.payloadCapBytes ? input.data.subarray(0, input.payloadCapBytes) : input.data,
    rawSize: input.data.length,
    sensorId:
      typeof sensorId === 'string' && sensorId.length > 0
        ? toStorableText(sensorId).slice(0, MAX_SENSOR_ID_CHARS)
        : null,
    readingId: typeof readingId === 'string' && UUID.test(readingId) ? readingId.toLowerCase() : null,
    position: input.position,
    errorTime: input.errorTime,
  };
}
