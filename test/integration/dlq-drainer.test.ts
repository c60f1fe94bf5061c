/**
 * The drainer's handling of failed-batch notices: the range is read back from a real Kinesis
 * emulator and landed; records the stream no longer holds become one PROCESSING_FAILURE row.
 * A Kafka event source's notice (built by the local host's own builder, the shape it sends)
 * becomes one PROCESSING_FAILURE row naming the offset range.
 */
import { DeleteStreamCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { SQSBatchResponse } from 'aws-lambda';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kafkaFailureNotice } from '#runtime/host/kafka-events.js';
import { createTestDatabase } from '../support/database.js';
import { type RunningKinesis, startKinesis } from '../support/emulators.js';
import { aReading, encode, kinesisFailureNotice, lambdaContext, STREAM_NAME, sqsEvent } from '../support/factories.js';

let kinesis: RunningKinesis;
let db: pg.Pool;
let drainer: (
  event: ReturnType<typeof sqsEvent>,
  context: ReturnType<typeof lambdaContext>,
) => Promise<SQSBatchResponse>;
let shardId: string;

beforeAll(async () => {
  const url = await createTestDatabase('drainer');
  kinesis = await startKinesis();
  Object.assign(process.env, {
    DATABASE_URL: url,
    KINESIS_ENDPOINT: kinesis.endpoint,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  db = new pg.Pool({ connectionString: url, max: 2 });
  drainer = (await import('#lambdas/dlq-drainer/handler.js')).handler as typeof drainer;
});
afterAll(async () => {
  await db?.end();
  await kinesis?.stop();
});
beforeEach(async () => {
  await db.query('TRUNCATE sensor_readings, sensor_errors');
  await kinesis.client.send(new DeleteStreamCommand({ StreamName: STREAM_NAME })).catch(() => undefined);
  [shardId] = (await kinesis.createStream(STREAM_NAME, 1)) as [string];
});

async function put(payloads: Uint8Array[]): Promise<string[]> {
  const out = await kinesis.client.send(
    new PutRecordsCommand({
      StreamName: STREAM_NAME,
      Records: payloads.map((Data) => ({ Data, PartitionKey: 'temp-0001' })),
    }),
  );
  return (out.Records ?? []).map((r) => r.SequenceNumber as string);
}

function notice(start: string, end: string, batchSize: number): string {
  return kinesisFailureNotice({ shardId, start, end, batchSize });
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await db.query(sql)).rows;
}

describe('dlq-drainer with failed-batch notices', () => {
  it('reads the named range back and lands each record as a reading or an error, once', async () => {
    const before = await put([encode(aReading({ sensor_id: 'outside' }))]);
    const seqs = await put([
      encode(aReading({ sensor_id: 'in-1' })),
      encode('garbage'),
      encode(aReading({ sensor_id: 'in-3', value: null })),
    ]);
    await put([encode(aReading({ sensor_id: 'after' }))]);
    const body = notice(seqs[0] as string, seqs[2] as string, 3);

    for (let delivery = 0; delivery < 2; delivery++) {
      const response = await drainer(sqsEvent([body]), lambdaContext('drainer'));
      expect(response.batchItemFailures).toEqual([]);
    }

    expect(await rows('SELECT sensor_id, sequence_number FROM sensor_readings')).toEqual([
      { sensor_id: 'in-1', sequence_number: seqs[0] },
    ]);
    expect(
      await rows('SELECT error_type, sequence_number, shard_id FROM sensor_errors ORDER BY sequence_number'),
    ).toEqual([
      { error_type: 'JSON_PARSE_ERROR', sequence_number: seqs[1], shard_id: shardId },
      { error_type: 'NULL_VALUE', sequence_number: seqs[2], shard_id: shardId },
    ]);
    expect(before).toHaveLength(1);
  });

  it('turns records the stream no longer holds into one PROCESSING_FAILURE row naming the range', async () => {
    const seqs = await put([encode(aReading()), encode(aReading())]);
    // Deleting and re-creating the stream is the emulator's way to lose records for good.
    await kinesis.client.send(new DeleteStreamCommand({ StreamName: STREAM_NAME }));
    await kinesis.createStream(STREAM_NAME, 1);

    const body = notice(seqs[0] as string, seqs[1] as string, 2);
    expect((await drainer(sqsEvent([body]), lambdaContext('drainer'))).batchItemFailures).toEqual([]);
    expect((await drainer(sqsEvent([body]), lambdaContext('drainer'))).batchItemFailures).toEqual([]);

    const errors = await rows('SELECT error_type, sequence_number, error_message, raw_size FROM sensor_errors');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      error_type: 'PROCESSING_FAILURE',
      sequence_number: `${seqs[0]}..${seqs[1]}`,
      raw_size: 0,
    });
    expect(errors[0]?.error_message).toMatch(
      /gave up on 2 record\(s\).*RetryAttemptsExhausted.*2 could not be read back/,
    );
    expect(await rows('SELECT 1 FROM sensor_readings')).toEqual([]);
  });

  it('retries, rather than writes off, a notice naming a stream it cannot find (a configuration error)', async () => {
    const seqs = await put([encode(aReading())]);
    const body = notice(seqs[0] as string, seqs[0] as string, 1).replace(
      `stream/${STREAM_NAME}`,
      'stream/no_such_stream',
    );
    const event = sqsEvent([body]);
    const response = await drainer(event, lambdaContext('drainer'));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[0]?.messageId]);
    expect(await rows('SELECT 1 FROM sensor_errors')).toEqual([]);
  });

  it('reports a message it does not understand as failed, so it is retried and then redriven, not dropped', async () => {
    const event = sqsEvent(['{"hello": "world"}', 'not json']);
    const response = await drainer(event, lambdaContext('drainer'));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(event.Records.map((r) => r.messageId));
  });
});

describe('dlq-drainer with the Kafka event source notices', () => {
  function kafkaNotice(offsets: readonly string[]): string {
    const records = offsets.map((offset) => ({
      topic: 'iot_sensor_data',
      partition: 3,
      offset,
      timestamp: Date.parse('2026-11-30T01:00:00Z'),
      key: null,
      value: Buffer.from('{}'),
      headers: {},
    }));
    return JSON.stringify(
      kafkaFailureNotice({
        records,
        condition: 'RecordAgeExceeded',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-kafka-bridge',
        requestId: 'req-k',
        invokeCount: 3,
        functionError: 'Unhandled',
        bootstrapServers: ['127.0.0.1:9092'],
        consumerGroupId: 'iot-kafka-bridge',
      }),
    );
  }

  it('lands a given-up offset range as one PROCESSING_FAILURE row that says where to replay from, once', async () => {
    const body = kafkaNotice(['41', '42', '43']);
    for (let delivery = 0; delivery < 2; delivery++) {
      const response = await drainer(sqsEvent([body]), lambdaContext('drainer'));
      expect(response.batchItemFailures).toEqual([]);
    }
    const errors = await rows(
      'SELECT error_type, stream_name, shard_id, sequence_number, partition_key, raw_size, error_message FROM sensor_errors',
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      error_type: 'PROCESSING_FAILURE',
      stream_name: 'kafka:iot_sensor_data',
      shard_id: 'iot_sensor_data-3',
      sequence_number: '41..43',
      partition_key: null,
      raw_size: 0,
    });
    expect(errors[0]?.error_message).toMatch(/gave up on 3 record\(s\).*RecordAgeExceeded.*replay them from offset 41/);
    expect(await rows('SELECT 1 FROM sensor_readings')).toEqual([]);
  });

  it('fails a Kafka notice without a topic instead of writing a row that names nothing', async () => {
    const body = JSON.parse(kafkaNotice(['7'])) as { KafkaBatchInfo: Record<string, unknown> };
    delete body.KafkaBatchInfo.topic;
    const event = sqsEvent([JSON.stringify(body)]);
    const response = await drainer(event, lambdaContext('drainer'));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[0]?.messageId]);
    expect(await rows('SELECT 1 FROM sensor_errors')).toEqual([]);
  });
});
