/**
 * Configuration is read from the environment once, at container start, and validated with zod.
 * A missing or bad setting fails the cold start with one message naming every offending
 * variable, instead of surfacing later as an `undefined` deep inside a batch.
 */
import { z } from 'zod';
import { DEFAULT_PAYLOAD_CAP_BYTES } from '#domain/reading.js';

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/**
 * Parses `env` with `schema`; on failure throws a ConfigurationError such as
 * `Invalid configuration for validator: ERRORS_QUEUE_URL: required; PAYLOAD_CAP_BYTES: must be a positive integer`.
 */
export function readConfig<S extends z.ZodType>(
  component: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(environment)';
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    return `${key}: ${missing ? 'required but not set' : issue.message}`;
  });
  throw new ConfigurationError(`Invalid configuration for ${component}: ${problems.join('; ')}`);
}

const HTTP_URL = /^https?:\/\/[^\s/]+(\/\S*)?$/;

/** Reusable field schemas, so every function spells its settings the same way. */
export const settings = {
  region: z.string().min(1).default('us-east-1'),
  // A pattern, not z.url() or URL.canParse: emulator queue URLs such as
  // http://sqs.us-east-1.127.0.0.1:3000/… are not WHATWG URLs, yet the SDK uses them fine.
  optionalUrl: z.string().regex(HTTP_URL, 'must be an http(s) URL such as http://127.0.0.1:4567').optional(),
  url: z.string().regex(HTTP_URL, 'must be an http(s) URL'),
  name: z.string().min(1),
  /** An SNS topic ARN; the emulators (fauxqs, LocalStack) use account 000000000000. */
  topicArn: z
    .string()
    .regex(
      /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
      'must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:iot-alerts',
    ),
  /**
   * A rejection carries its bytes (base64) in one SQS message of at most 256 KiB, so the cap
   * stays well below that.
   */
  payloadCapBytes: z.coerce
    .number({ message: 'must be an integer from 1024 to 131072' })
    .int('must be an integer from 1024 to 131072')
    .min(1024, 'must be an integer from 1024 to 131072')
    .max(128 * 1024, 'must be at most 131072: a rejection travels with its bytes in one SQS message (256 KiB)')
    .default(DEFAULT_PAYLOAD_CAP_BYTES),
  positiveInt: (fallback: number) =>
    z.coerce
      .number({ message: 'must be a positive integer' })
      .int('must be a positive integer')
      .positive('must be a positive integer')
      .default(fallback),
};
