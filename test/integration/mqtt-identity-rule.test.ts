/**
 * The identity rule through the real validator and drainer handlers, real PostgreSQL (with the
 * migrated CHECK constraint), a real SQS emulator and a real Kinesis emulator: a device's
 * reading that names another sensor lands as one IDENTITY_MISMATCH row attributed to the
 * device, both on the validator's path and on the drainer's replay of a failed batch.
 */

import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningKinesis, RunningSqs } from '../support/emulators.js';
import {
  aReading,
  encode,
  kinesisEvent,
  kinesisFailureNotice,
  lambdaContext,
  STREAM_NAME,
  sqsEvent,
} from '../support/factories.js';
import { type IngestHandlers, startIngestHandlers } from '../support/ingest-handlers.js';

let parts: IngestHandlers;
let sqs: RunningSqs;
let kinesis: RunningKinesis;
let queueUrl: string;
let db: pg.Pool;
let validator: IngestHandlers['validator'];
let drainer: IngestHandlers['drainer'];

beforeAll(async () => {
  parts = await startIngestHandlers({ database: 'mqtt_identity', kinesis: true });
  ({ sqs, db, errorsQueueUrl: queueUrl, validator, drainer } = parts);
  kinesis = parts.kinesis as RunningKinesis;
});
afterAll(async () => parts?.stop());

beforeEach(async () => {
  await db.query('TRUNCATE sensor_readings, sensor_errors, aggregation_dirty_windows');
  (await sqs.takeAll(queueUrl)).map((m) => m.body);
});

/** A device's records: the partition key the topic rule sets, `mqtt:<thing name>`. */
function fromDevice(identity: string, payloads: Uint8Array[]) {
  const built = kinesisEvent(payloads);
  for (const record of built.event.Records) record.kinesis.partitionKey = `mqtt:${identity}`;
  return built;
}

describe('the identity rule in the validator and the drainer', () => {
  it("lands the device's own readings and one IDENTITY_MISMATCH row for the impersonation", async () => {
    const own = aReading({ sensor_id: 'temp-0001', value: 20 });
    const forged = aReading({ sensor_id: 'temp-0002', value: 21 });
    const producerSame = aReading({ sensor_id: 'temp-0002', value: 22 });
    const device = fromDevice('temp-0001', [encode(own), encode(forged)]);
    // A producer record (bare partition key) naming temp-0002 is not affected by the rule.
    const producer = kinesisEvent([encode(producerSame)]);

    expect((await validator(device.event, lambdaContext('validator'))).batchItemFailures).toEqual([]);
    expect((await validator(producer.event, lambdaContext('validator'))).batchItemFailures).toEqual([]);
    const drained = await drainer(sqsEvent((await sqs.takeAll(queueUrl)).map((m) => m.body)), lambdaContext('drainer'));
    expect(drained.batchItemFailures).toEqual([]);

    const readings = await db.query('SELECT reading_id, sensor_id, partition_key FROM sensor_readings ORDER BY value');
    expect(readings.rows).toEqual([
      { reading_id: own.reading_id, sensor_id: 'temp-0001', partition_key: 'mqtt:temp-0001' },
      { reading_id: producerSame.reading_id, sensor_id: 'temp-0002', partition_key: 'temp-0001' },
    ]);
    const errors = await db.query(
      'SELECT error_type, error_message, sensor_id, reading_id, partition_key, raw_value, sequence_number FROM sensor_errors',
    );
    expect(errors.rows).toHaveLength(1);
    expect(errors.rows[0]).toMatchObject({
      error_type: 'IDENTITY_MISMATCH',
      sensor_id: 'temp-0001',
      reading_id: forged.reading_id,
      partition_key: 'mqtt:temp-0001',
      raw_value: JSON.stringify(forged),
      sequence_number: device.sequenceNumbers[1],
    });
    expect(errors.rows[0].error_message).toMatch(/"temp-0002".*"temp-0001"/);
  });

  it('a redelivered batch adds nothing', async () => {
    const device = fromDevice('hum-0001', [encode(aReading({ sensor_id: 'hum-0009' }))]);
    await validator(device.event, lambdaContext('validator'));
    await validator(device.event, lambdaContext('validator'));
    await drainer(sqsEvent((await sqs.takeAll(queueUrl)).map((m) => m.body)), lambdaContext('drainer'));
    const { rows } = await db.query('SELECT error_type, sensor_id FROM sensor_errors');
    expect(rows).toEqual([{ error_type: 'IDENTITY_MISMATCH', sensor_id: 'hum-0001' }]);
  });

  it("the drainer's replay of a failed batch applies the same rule", async () => {
    const [shardId] = (await kinesis.createStream(STREAM_NAME, 1)) as [string];
    const own = aReading({ sensor_id: 'pres-0001', sensor_type: 'pressure', min: 300, max: 1100, value: 1000 });
    const forged = aReading({ sensor_id: 'pres-0002', sensor_type: 'pressure', min: 300, max: 1100, value: 1000 });
    const put = await kinesis.client.send(
      new PutRecordsCommand({
        StreamName: STREAM_NAME,
        Records: [own, forged].map((r) => ({ Data: encode(r), PartitionKey: 'mqtt:pres-0001' })),
      }),
    );
    const [start, end] = (put.Records ?? []).map((r) => r.SequenceNumber as string) as [string, string];
    const notice = kinesisFailureNotice({ shardId, start, end, batchSize: 2 });
    expect((await drainer(sqsEvent([notice]), lambdaContext('drainer'))).batchItemFailures).toEqual([]);
    const readings = await db.query('SELECT reading_id FROM sensor_readings');
    expect(readings.rows).toEqual([{ reading_id: own.reading_id }]);
    const errors = await db.query('SELECT error_type, sensor_id, reading_id, sequence_number FROM sensor_errors');
    expect(errors.rows).toEqual([
      { error_type: 'IDENTITY_MISMATCH', sensor_id: 'pres-0001', reading_id: forged.reading_id, sequence_number: end },
    ]);
  });

  it("a topic rule's error message lands its payload once, with the identity rule applied", async () => {
    const own = aReading({ sensor_id: 'temp-0007' });
    const forged = aReading({ sensor_id: 'temp-0008' });
    const ruleError = (reading: Record<string, unknown>, traceId: string) =>
      JSON.stringify({
        ruleName: 'iot_sensor_readings_to_stream',
        topic: 'iot/sensors/temp-0007/readings',
        cloudwatchTraceId: traceId,
        clientId: 'temp-0007',
        base64OriginalPayload: Buffer.from(JSON.stringify(reading)).toString('base64'),
        failures: [{ failedAction: 'KinesisAction', failedResource: STREAM_NAME, errorMessage: 'stream unavailable' }],
      });
    const bodies = [ruleError(own, 'trace-1'), ruleError(forged, 'trace-2')];
    expect((await drainer(sqsEvent(bodies), lambdaContext('drainer'))).batchItemFailures).toEqual([]);
    expect((await drainer(sqsEvent(bodies), lambdaContext('drainer'))).batchItemFailures).toEqual([]); // redelivered
    const readings = await db.query('SELECT reading_id, partition_key, shard_id, sequence_number FROM sensor_readings');
    expect(readings.rows).toEqual([
      {
        reading_id: own.reading_id,
        partition_key: 'mqtt:temp-0007',
        shard_id: 'topic-rule-error',
        sequence_number: 'iot_sensor_readings_to_stream:trace-1',
      },
    ]);
    const errors = await db.query('SELECT error_type, sensor_id, reading_id FROM sensor_errors');
    expect(errors.rows).toEqual([
      { error_type: 'IDENTITY_MISMATCH', sensor_id: 'temp-0007', reading_id: forged.reading_id },
    ]);
  });
});
