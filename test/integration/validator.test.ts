import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { SqsErrorQueue } from '#adapters/sqs/error-queue.js';
import { validateBatch } from '#pipeline/validate-batch.js';
import type { RunningSqs } from '../support/emulators.js';
import { aPosition, aReading, encode, kinesisEvent, lambdaContext, sqsEvent } from '../support/factories.js';
import { freePort } from '../support/free-port.js';
import { type IngestHandlers, startIngestHandlers } from '../support/ingest-handlers.js';

let parts: IngestHandlers;
let sqs: RunningSqs;
let queueUrl: string;
let db: pg.Pool;
let validator: IngestHandlers['validator'];
let drainer: IngestHandlers['drainer'];

beforeAll(async () => {
  parts = await startIngestHandlers({ database: 'validator' });
  ({ sqs, db, errorsQueueUrl: queueUrl, validator, drainer } = parts);
});
afterAll(async () => parts?.stop());

beforeEach(async () => {
  await db.query('TRUNCATE sensor_readings, sensor_errors, sensor_aggregations, aggregation_dirty_windows');
  await sqs.takeAll(queueUrl);
});

async function count(table: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}

const mixedBatch = () => [
  encode(aReading({ sensor_id: 'temp-0001', value: 20 })),
  encode(aReading({ sensor_id: 'temp-0002', value: 85 })),
  encode('{"sensor_id": "broken'),
  encode(aReading({ sensor_type: 'voltage' })),
  encode(aReading({ sensor_id: 'temp-0003', status: 'maintenance' })),
  encode(aReading({ sensor_id: 'temp-0004', value: null })),
  encode(aReading({ sensor_id: 'temp-0005', value: -41 })),
  encode(aReading({ sensor_id: 'temp-0006', value: 86 })),
  Buffer.alloc(70 * 1024, 0x61),
];

describe('validator handler', () => {
  it('stores valid readings, queues every rejection with its reason, and acknowledges all', async () => {
    const { event, sequenceNumbers } = kinesisEvent(mixedBatch());
    const response = await validator(event, lambdaContext('validator'));
    expect(response.batchItemFailures).toEqual([]);

    const readings = await db.query(
      'SELECT sensor_id, value, normalized_value, high_alert, sequence_number, stream_name, shard_id FROM sensor_readings ORDER BY sensor_id',
    );
    expect(readings.rows).toEqual([
      {
        sensor_id: 'temp-0001',
        value: 20,
        normalized_value: 60 / 125,
        high_alert: false,
        sequence_number: sequenceNumbers[0],
        stream_name: 'iot_sensor_data',
        shard_id: 'shardId-000000000000',
      },
      {
        sensor_id: 'temp-0002',
        value: 85,
        normalized_value: 1,
        high_alert: true,
        sequence_number: sequenceNumbers[1],
        stream_name: 'iot_sensor_data',
        shard_id: 'shardId-000000000000',
      },
    ]);

    const messages = await sqs.takeAll(queueUrl);
    expect(messages).toHaveLength(2); // the oversized record's 64 KiB travel in a message of their own
    expect(
      messages.flatMap((m) => JSON.parse(m.body).errors.map((e: { errorType: string }) => e.errorType)).sort(),
    ).toEqual([
      'ABOVE_MAX',
      'BELOW_MIN',
      'INACTIVE_SENSOR',
      'JSON_PARSE_ERROR',
      'NULL_VALUE',
      'PAYLOAD_TOO_LARGE',
      'SCHEMA_ERROR',
    ]);

    const drained = await drainer(sqsEvent(messages.map((m) => m.body)), lambdaContext('drainer'));
    expect(drained.batchItemFailures).toEqual([]);
    const errors = await db.query(
      'SELECT error_type, sensor_id, raw_size, octet_length(raw_bytes) AS stored, raw_value, sequence_number FROM sensor_errors ORDER BY sequence_number',
    );
    expect(errors.rows.map((r) => r.error_type)).toEqual([
      'JSON_PARSE_ERROR',
      'SCHEMA_ERROR',
      'INACTIVE_SENSOR',
      'NULL_VALUE',
      'BELOW_MIN',
      'ABOVE_MAX',
      'PAYLOAD_TOO_LARGE',
    ]);
    expect(errors.rows.map((r) => r.sequence_number)).toEqual(sequenceNumbers.slice(2));
    expect(errors.rows[0].raw_value).toBe('{"sensor_id": "broken');
    expect(errors.rows[2].sensor_id).toBe('temp-0003');
    const tooLarge = errors.rows[6];
    expect([tooLarge.raw_size, tooLarge.stored]).toEqual([70 * 1024, 64 * 1024]);
  });

  it('adds nothing when the same batch is delivered again (COPY falls back to ON CONFLICT)', async () => {
    const { event } = kinesisEvent(mixedBatch());
    await validator(event, lambdaContext('validator'));
    await drainer(sqsEvent((await sqs.takeAll(queueUrl)).map((m) => m.body)), lambdaContext('drainer'));
    const again = await validator(event, lambdaContext('validator'));
    expect(again.batchItemFailures).toEqual([]);
    await drainer(sqsEvent((await sqs.takeAll(queueUrl)).map((m) => m.body)), lambdaContext('drainer'));
    expect([await count('sensor_readings'), await count('sensor_errors')]).toEqual([2, 7]);
  });

  it('adds nothing when a retrying producer sends the same reading_id at a new position', async () => {
    const reading = encode(aReading());
    await validator(kinesisEvent([reading]).event, lambdaContext('validator'));
    const retry = await validator(
      kinesisEvent([reading, encode(aReading({ sensor_id: 'temp-0009' }))]).event,
      lambdaContext('validator'),
    );
    expect(retry.batchItemFailures).toEqual([]);
    expect(await count('sensor_readings')).toBe(2);
  });

  it('marks the windows of stored readings for the aggregator in the same write', async () => {
    await validator(
      kinesisEvent([
        encode(aReading({ sensor_id: 'a', timestamp: '2026-11-26T12:00:59.999Z' })),
        encode(aReading({ sensor_id: 'a', timestamp: '2026-11-26T12:01:00Z' })),
        encode(aReading({ sensor_id: 'b', timestamp: '2026-11-26T09:00:10-03:00' })),
      ]).event,
      lambdaContext('validator'),
    );
    const marks = await db.query(
      `SELECT sensor_id, to_char(window_start AT TIME ZONE 'UTC', 'HH24:MI') AS w FROM aggregation_dirty_windows ORDER BY 1, 2`,
    );
    expect(marks.rows).toEqual([
      { sensor_id: 'a', w: '12:00' },
      { sensor_id: 'a', w: '12:01' },
      { sensor_id: 'b', w: '12:00' },
    ]);
  });
});

describe('validateBatch when a part is down (real refused connections, no mocks)', () => {
  it('database down: valid records are retried, rejections still acknowledged once queued', async () => {
    const deadPool = new pg.Pool({
      connectionString: `postgres://x:y@127.0.0.1:${await freePort()}/none`,
      connectionTimeoutMillis: 2_000,
    });
    try {
      const valid = { data: encode(aReading()), position: aPosition() };
      const invalid = { data: encode('nope'), position: aPosition() };
      const outcome = await validateBatch([valid, invalid], {
        store: new PostgresPipelineStore(deadPool),
        errorQueue: new SqsErrorQueue(sqs.client, queueUrl),
        payloadCapBytes: 65_536,
      });
      expect(outcome.failedSequenceNumbers).toEqual([valid.position.sequenceNumber]);
      expect(outcome.problems.join()).toMatch(/database/);
      expect(await sqs.takeAll(queueUrl)).toHaveLength(1);
    } finally {
      await deadPool.end();
    }
  });

  it('queue down: rejections are retried, valid records still committed', async () => {
    const valid = { data: encode(aReading()), position: aPosition() };
    const invalid = { data: encode('nope'), position: aPosition() };
    const outcome = await validateBatch([valid, invalid], {
      store: new PostgresPipelineStore(db),
      errorQueue: new SqsErrorQueue(sqs.client, `${queueUrl}-missing`, { attempts: 2, baseMs: 1, maxMs: 5 }),
      payloadCapBytes: 65_536,
    });
    expect(outcome.failedSequenceNumbers).toEqual([invalid.position.sequenceNumber]);
    expect(await count('sensor_readings')).toBe(1);
  });

  it('a row the database refuses is routed to the DLQ with the reason and does not fail its neighbours', async () => {
    // A constraint stricter than the validator stands in for any content PostgreSQL refuses.
    await db.query(`ALTER TABLE sensor_readings ADD CONSTRAINT test_no_evil CHECK (model <> 'evil')`);
    try {
      const records = [aReading(), aReading({ model: 'evil' }), aReading()].map((r) => ({
        data: encode(r),
        position: aPosition(),
      }));
      const outcome = await validateBatch(records, {
        store: new PostgresPipelineStore(db),
        errorQueue: new SqsErrorQueue(sqs.client, queueUrl),
        payloadCapBytes: 65_536,
      });
      expect(outcome.failedSequenceNumbers).toEqual([]);
      expect(outcome.stored).toBe(2);
      const [message] = await sqs.takeAll(queueUrl);
      const body = JSON.parse(message?.body ?? '{}').errors[0];
      expect(body).toMatchObject({ errorType: 'SCHEMA_ERROR', sequenceNumber: records[1]?.position.sequenceNumber });
      expect(body.errorMessage).toMatch(/refused by the database.*test_no_evil/);
    } finally {
      await db.query('ALTER TABLE sensor_readings DROP CONSTRAINT test_no_evil');
    }
  });
});
