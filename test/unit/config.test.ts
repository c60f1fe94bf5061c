import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { databaseSourceFromEnv } from '#adapters/postgres/pool.js';
import { ConfigurationError, readConfig, settings } from '#config/env.js';

const schema = z.object({
  ERRORS_QUEUE_URL: settings.url,
  PAYLOAD_CAP_BYTES: settings.positiveInt(65_536),
  SQS_ENDPOINT: settings.optionalUrl,
});

describe('configuration', () => {
  it('names every missing or bad setting in one message', () => {
    const read = () => readConfig('validator', schema, { PAYLOAD_CAP_BYTES: '-3', SQS_ENDPOINT: 'localhost' });
    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(
      /validator: ERRORS_QUEUE_URL: required but not set; PAYLOAD_CAP_BYTES: must be a positive integer; SQS_ENDPOINT: must be an http/,
    );
  });

  it('bounds the payload cap so a rejection always fits one SQS message', () => {
    const cap = z.object({ PAYLOAD_CAP_BYTES: settings.payloadCapBytes });
    expect(readConfig('validator', cap, {}).PAYLOAD_CAP_BYTES).toBe(65_536);
    expect(() => readConfig('validator', cap, { PAYLOAD_CAP_BYTES: String(512 * 1024) })).toThrow(
      /PAYLOAD_CAP_BYTES: must be at most 131072/,
    );
  });

  it('applies defaults and coerces numbers', () => {
    expect(
      readConfig('validator', schema, { ERRORS_QUEUE_URL: 'http://sqs.us-east-1.127.0.0.1:3000/000000000000/q' }),
    ).toEqual({
      ERRORS_QUEUE_URL: 'http://sqs.us-east-1.127.0.0.1:3000/000000000000/q',
      PAYLOAD_CAP_BYTES: 65_536,
    });
    expect(
      readConfig('validator', schema, {
        ERRORS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q',
        PAYLOAD_CAP_BYTES: '1024',
      }).PAYLOAD_CAP_BYTES,
    ).toBe(1024);
  });

  it('takes the database from DATABASE_URL, else from a Secrets Manager secret, else says what to set', () => {
    expect(databaseSourceFromEnv({ DATABASE_URL: 'postgres://u@h/db', DB_SECRET_ARN: 'arn' })).toEqual({
      kind: 'url',
      url: 'postgres://u@h/db',
    });
    expect(
      databaseSourceFromEnv({ DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:db', AWS_REGION: 'eu-west-1' }),
    ).toMatchObject({
      kind: 'secret',
      region: 'eu-west-1',
      ssl: true,
    });
    expect(databaseSourceFromEnv({ DB_SECRET_ARN: 'arn', DB_SSL: 'false' })).toMatchObject({ ssl: false });
    expect(() => databaseSourceFromEnv({})).toThrow(/set DATABASE_URL, or DB_SECRET_ARN/);
  });
});
