/**
 * Validation of one stream record, in exactly the order of docs/DESIGN.md section 3: the first rule
 * that matches decides the error type. Total: any byte sequence at all yields one
 * classification, never an exception, so a hostile record cannot fail its batch.
 */

import { buildErrorRecord } from './error-record.js';
import { normalize } from './normalization.js';
import {
  commonReading,
  type ErrorRecord,
  type ErrorType,
  type ReadingRow,
  readingSchema,
  type SensorReading,
} from './reading.js';
import { parseRecordOrigin, senderIdentity } from './record-origin.js';
import type { StreamPosition } from './stream.js';

export type Classification =
  | { readonly kind: 'reading'; readonly row: ReadingRow }
  | { readonly kind: 'error'; readonly error: ErrorRecord };

export interface ClassifyOptions {
  readonly payloadCapBytes: number;
  /** Processing time stamped on the result; one value per batch keeps a batch consistent. */
  readonly now: Date;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const MAX_ISSUES_IN_MESSAGE = 5;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first rule a record broke, and how. */
interface Broken {
  readonly errorType: ErrorType;
  readonly message: string;
}

export function classifyRecord(data: Uint8Array, position: StreamPosition, options: ClassifyOptions): Classification {
  const senderId = senderIdentity(parseRecordOrigin(position.partitionKey));
  const reject = (broken: Broken, parsed?: Record<string, unknown>): Classification => ({
    kind: 'error',
    error: buildErrorRecord({
      errorType: broken.errorType,
      errorMessage: broken.message,
      data,
      payloadCapBytes: options.payloadCapBytes,
      position,
      parsed,
      senderId,
      errorTime: options.now,
    }),
  });
  if (data.length > options.payloadCapBytes) {
    return reject({
      errorType: 'PAYLOAD_TOO_LARGE',
      message: `record is ${data.length} bytes; the cap is ${options.payloadCapBytes}`,
    });
  }
  const json = decodeObject(data);
  if ('errorType' in json) return reject(json);
  const mismatch = identityMismatch(json.object, senderId);
  if (mismatch) return reject(mismatch, json.object);
  // The common shape is checked without zod; anything else goes to the schema, which names the issue.
  let reading = commonReading(json.object);
  if (!reading) {
    const result = readingSchema.safeParse(json.object);
    if (!result.success)
      return reject({ errorType: 'SCHEMA_ERROR', message: describeIssues(result.error.issues) }, json.object);
    reading = result.data;
  }
  const broken = brokenValueRule(reading);
  if (broken) return reject(broken, json.object);
  // brokenValueRule has rejected a null value.
  return { kind: 'reading', row: toRow(reading, reading.value as number, position, options.now) };
}

/**
 * The identity rule (docs/DESIGN.md section 3): a record from an authenticated device must name
 * that device as its sensor_id, or it would land as another sensor's reading. It stands right
 * after parsing, before the schema, because the claim is readable from then on and an
 * impersonation attempt must be named as such whatever else is wrong with the record. A
 * sensor_id that is missing or not a string claims no other sensor; the schema rule reports it.
 */
function identityMismatch(json: Record<string, unknown>, senderId: string | null): Broken | undefined {
  if (senderId === null) return undefined;
  const claimed = json.sensor_id;
  if (typeof claimed !== 'string' || claimed === senderId) return undefined;
  const shown = JSON.stringify(claimed.length > 128 ? `${claimed.slice(0, 128)}…` : claimed);
  const message =
    senderId === ''
      ? `sensor_id ${shown} came through the MQTT door without a device identity`
      : `sensor_id ${shown} differs from the identity of the device that sent it (${JSON.stringify(senderId)})`;
  return { errorType: 'IDENTITY_MISMATCH', message };
}

/** UTF-8, then JSON, then an object: each step's failure is a JSON_PARSE_ERROR. */
function decodeObject(data: Uint8Array): { readonly object: Record<string, unknown> } | Broken {
  let text: string;
  try {
    text = strictDecoder.decode(data);
  } catch {
    return { errorType: 'JSON_PARSE_ERROR', message: 'not valid UTF-8' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // SyntaxError for malformed JSON; RangeError when nesting exhausts the parser's stack.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : 'not valid JSON';
    return { errorType: 'JSON_PARSE_ERROR', message };
  }
  if (isPlainObject(json)) return { object: json };
  const got = Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json;
  return { errorType: 'JSON_PARSE_ERROR', message: `expected a JSON object, got ${got}` };
}

function describeIssues(
  issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
): string {
  const described = issues
    .slice(0, MAX_ISSUES_IN_MESSAGE)
    .map((issue) => `${issue.path.map(String).join('.') || '(record)'}: ${issue.message}`);
  if (issues.length > MAX_ISSUES_IN_MESSAGE) described.push(`and ${issues.length - MAX_ISSUES_IN_MESSAGE} more`);
  return described.join('; ');
}

/** The rules after the schema, in their order: status, then null, then the range. */
function brokenValueRule(reading: SensorReading): Broken | undefined {
  if (reading.status !== 'active')
    return { errorType: 'INACTIVE_SENSOR', message: `sensor status is "${reading.status}", not "active"` };
  if (reading.value === null) return { errorType: 'NULL_VALUE', message: 'value is null' };
  if (reading.value < reading.min)
    return { errorType: 'BELOW_MIN', message: `value ${reading.value} is below min ${reading.min}` };
  if (reading.value > reading.max)
    return { errorType: 'ABOVE_MAX', message: `value ${reading.value} is above max ${reading.max}` };
  return undefined;
}

function toRow(reading: SensorReading, value: number, position: StreamPosition, now: Date): ReadingRow {
  return {
    readingId: reading.reading_id ?? null,
    sensorId: reading.sensor_id,
    sensorType: reading.sensor_type,
    value,
    unit: reading.unit,
    manufacturer: reading.manufacturer,
    model: reading.model,
    min: reading.min,
    max: reading.max,
    status: reading.status,
    eventTime: reading.timestamp,
    ...normalize(value, reading.min, reading.max),
    processingTime: now,
    position,
  };
}
