/**
 * Validation of one stream record, in exactly the order of DESIGN.md section 3: the first rule
 * that matches decides the error type. Total: any byte sequence at all yields one
 * classification, never an exception, so a hostile record cannot fail its batch.
 */
import { buildErrorRecord } from './error-record.js';
import { normalize } from './normalization.js';
import { type ErrorRecord, type ErrorType, type ReadingRow, readingSchema, type StreamPosition } from './reading.js';
import { parseRecordOrigin, senderIdentity } from './record-origin.js';

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

/**
 * The identity rule (DESIGN.md section 3): a record from an authenticated device must name that
 * device as its sensor_id, or it would land as another sensor's reading. It stands right after
 * parsing, before the schema, because the claim is readable from then on and an impersonation
 * attempt must be named as such whatever else is wrong with the record. A sensor_id that is
 * missing or not a string claims no other sensor; the schema rule reports it.
 */
function identityMismatch(json: Record<string, unknown>, senderId: string | null): string | null {
  if (senderId === null) return null;
  const claimed = json.sensor_id;
  if (typeof claimed !== 'string' || claimed === senderId) return null;
  const shown = claimed.length > 128 ? `${claimed.slice(0, 128)}…` : claimed;
  return senderId === ''
    ? `sensor_id ${JSON.stringify(shown)} came through the MQTT door without a device identity`
    : `sensor_id ${JSON.stringify(shown)} differs from the identity of the device that sent it (${JSON.stringify(senderId)})`;
}

export function classifyRecord(data: Uint8Array, position: StreamPosition, options: ClassifyOptions): Classification {
  let parsed: Record<string, unknown> | undefined;
  const senderId = senderIdentity(parseRecordOrigin(position.partitionKey));
  const reject = (errorType: ErrorType, errorMessage: string): Classification => ({
    kind: 'error',
    error: buildErrorRecord({
      errorType,
      errorMessage,
      data,
      payloadCapBytes: options.payloadCapBytes,
      position,
      parsed,
      senderId,
      errorTime: options.now,
    }),
  });

  if (data.length > options.payloadCapBytes) {
    return reject('PAYLOAD_TOO_LARGE', `record is ${data.length} bytes; the cap is ${options.payloadCapBytes}`);
  }

  let text: string;
  try {
    text = strictDecoder.decode(data);
  } catch {
    return reject('JSON_PARSE_ERROR', 'not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // SyntaxError for malformed JSON; RangeError when nesting exhausts the parser's stack.
    return reject('JSON_PARSE_ERROR', error instanceof Error ? `${error.name}: ${error.message}` : 'not valid JSON');
  }
  if (!isPlainObject(json)) {
    return reject(
      'JSON_PARSE_ERROR',
      `expected a JSON object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`,
    );
  }
  parsed = json;

  const mismatch = identityMismatch(json, senderId);
  if (mismatch !== null) return reject('IDENTITY_MISMATCH', mismatch);

  const result = readingSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues;
    const described = issues
      .slice(0, MAX_ISSUES_IN_MESSAGE)
      .map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`);
    if (issues.length > MAX_ISSUES_IN_MESSAGE) described.push(`and ${issues.length - MAX_ISSUES_IN_MESSAGE} more`);
    return reject('SCHEMA_ERROR', described.join('; '));
  }
  const reading = result.data;

  if (reading.status !== 'active')
    return reject('INACTIVE_SENSOR', `sensor status is "${reading.status}", not "active"`);
  if (reading.value === null) return reject('NULL_VALUE', 'value is null');
  if (reading.value < reading.min) return reject('BELOW_MIN', `value ${reading.value} is below min ${reading.min}`);
  if (reading.value > reading.max) return reject('ABOVE_MAX', `value ${reading.value} is above max ${reading.max}`);

  return {
    kind: 'reading',
    row: {
      readingId: reading.reading_id ?? null,
      sensorId: reading.sensor_id,
      sensorType: reading.sensor_type,
      value: reading.value,
      unit: reading.unit,
      manufacturer: reading.manufacturer,
      model: reading.model,
      min: reading.min,
      max: reading.max,
      status: reading.status,
      eventTime: reading.timestamp,
      ...normalize(reading.value, reading.min, reading.max),
      processingTime: options.now,
      position,
    },
  };
}
