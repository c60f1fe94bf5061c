/**
 * The query API's settings, read and validated once at start (Lambda cold start or `npm start`),
 * with the README's defaults: a sensor is ok while its newest reading is at most 5 minutes old,
 * stale up to an hour, offline beyond.
 */
import { z } from 'zod';
import { readConfig, settings } from './env.js';

export const apiSettingsSchema = z
  .object({
    STATUS_STALE_AFTER_SECONDS: settings.positiveInt(300),
    STATUS_OFFLINE_AFTER_SECONDS: settings.positiveInt(3_600),
    AGGREGATOR_LATE_AFTER_SECONDS: settings.positiveInt(180),
    DQ_LATE_AFTER_SECONDS: settings.positiveInt(900),
    /** How long a checked token is trusted before it is looked up again (revocation delay). */
    TOKEN_CACHE_MS: settings.positiveInt(5_000),
    /** How long identical polls (fleet, changes, health) share one reply; 0 turns sharing off. */
    API_SHARE_REPLIES_MS: z.coerce.number().int().min(0, 'must be 0 or more').max(60_000).default(1_000),
    /** Health calls a shard (and the stream) late when its oldest unprocessed record is older. */
    STREAM_LATE_AFTER_SECONDS: settings.positiveInt(60),
    /** Health calls a working queue late above this many waiting messages (a DLQ: above none). */
    QUEUE_LATE_AFTER_MESSAGES: settings.positiveInt(1_000),
    /*
     * The gauges' sources on AWS (set by the CDK stack; each optional, so the local server and
     * older stacks still start, and health reports null for what it cannot read).
     */
    AWS_REGION: settings.region,
    STREAM_NAME: settings.name.optional(),
    VALIDATOR_FUNCTION_NAME: settings.name.optional(),
    ERRORS_QUEUE_URL: settings.optionalUrl,
    FAILURES_QUEUE_URL: settings.optionalUrl,
    ERRORS_DLQ_URL: settings.optionalUrl,
    FAILURES_DLQ_URL: settings.optionalUrl,
    /** Emulator or LocalStack endpoints; unset on AWS. */
    KINESIS_ENDPOINT: settings.optionalUrl,
    SQS_ENDPOINT: settings.optionalUrl,
    CLOUDWATCH_ENDPOINT: settings.optionalUrl,
  })
  .refine((s) => s.STATUS_OFFLINE_AFTER_SECONDS > s.STATUS_STALE_AFTER_SECONDS, {
    path: ['STATUS_OFFLINE_AFTER_SECONDS'],
    message: 'must be greater than STATUS_STALE_AFTER_SECONDS',
  });
export type ApiSettings = z.output<typeof apiSettingsSchema>;

export function readApiSettings(env: Record<string, string | undefined> = process.env): ApiSettings {
  return readConfig('api', apiSettingsSchema, env);
}
