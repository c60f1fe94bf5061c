/**
 * The Kafka door end to end: readings produced to a real Kafka-protocol broker (librdkafka's mock
 * cluster) by kcat itself and by kafkajs, consumed by the local Kafka event source, forwarded by
 * the bridge handler into the embedded stack's stream, validated by the real validator and
 * drained by the real drainer into PostgreSQL. Every Kafka record becomes exactly the expected
 * row or error, and every row names its Kafka origin.
 */
import { randomUUID } from 'node:crypto';
import type { SelfManagedKafkaEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { countOutcomes, type OutcomeCounts, type SimulatedRecord, simulate } from '#domain/fleet.js';
import { KafkaEventSource } from '#runtime/host/kafka-source.js';
import { toErrorPayload } from '#runtime/host/protocol.js';
import { lambdaContext } from '../support/factories.js';
import { kafkaSkipReason, type MockKafka, startMockKafka } from '../support/kafka-broker.js';
import { copyTopology, count, startTestStack, type TestStack, waitFor } from '../support/runtime-stack.js';

const skip = kafkaSkipReason();
const TOPIC = 'iot_sensor_data';
const RATES = {
  INACTIVE_SENSOR: 0.2,
  BELOW_MIN: 0.05,
  ABOVE_MAX: 0.05,
  NULL_VALUE: 0.05,
  JSON_PARSE_ERROR: 0.05,
  SCHEMA_ERROR: 0.05,
};

/** Records kcat can send as one `key|value` line each: UTF-8 text without a line break. */
function kcatSafe(r: SimulatedRecord): boolean {
  const text = Buffer.from(r.data).toString('utf8');
  return !text.includes('\n') && Buffer.from(text, 'utf8').equals(Buffer.from(r.data));
}

function sum(a: OutcomeCounts, b: OutcomeCounts): OutcomeCounts {
  return Object.fromEntries(
    Object.keys(a).map((k) => [k, a[k as keyof OutcomeCounts] + b[k as keyof OutcomeCounts]]),
  ) as OutcomeCounts;
}

describe.skipIf(skip !== undefined)(`Kafka door end to end${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let stack: TestStack;
  let kafka: MockKafka;
  let source: KafkaEventSource;

  beforeAll(async () => {
    [stack, kafka] = await Promise.all([
      startTestStack({ topology: copyTopology(), label: 'kafka_e2e', host: { enable: { schedules: false } } }),
      startMockKafka(),
    ]);
    vi.resetModules();
    Object.assign(process.env, {
      STREAM_NAME: stack.endpoints.streamName,
      KINESIS_ENDPOINT: stack.endpoints.kinesisEndpoint,
      AWS_REGION: 'us-east-1',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    const { handler } = await import('#lambdas/kafka-bridge/handler.js');
    source = new KafkaEventSource({
      settings: {
        batchSize: 100,
        maxBatchingWindowSeconds: 0.2,
        bisectBatchOnError: true,
        retryAttempts: 5,
        maxRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
        startingPosition: 'TRIM_HORIZON',
      },
      brokers: kafka.bootstrap.split(','),
      topic: TOPIC,
      consumerGroupId: 'iot-kafka-bridge',
      sqs: stack.sqs,
      onFailureQueueUrl: stack.endpoints.failuresQueueUrl,
      target: {
        functionName: 'iot-kafka-bridge',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-kafka-bridge',
        invoke: async (event) => {
          const requestId = randomUUID();
          try {
            const payload = await handler(event as SelfManagedKafkaEvent, lambdaContext('iot-kafka-bridge'));
            return { ok: true, payload, requestId, durationMs: 0 };
          } catch (error) {
            return { ok: false, error: toErrorPayload(error), functionError: 'Unhandled', requestId, durationMs: 0 };
          }
        },
      },
    });
    await source.start();
  });

  afterAll(async () => {
    await source?.stop();
    await Promise.all([stack?.close(), kafka?.stop()]);
  });

  it('turns Kafka records from kcat and kafkajs into exactly the expected rows and errors, each with its origin', async () => {
    const viaKcat = simulate({
      count: 300,
      sensors: 10,
      seed: 1,
      startTime: new Date(),
      intervalMs: 1_000,
      rates: RATES,
    }).records.filter(kcatSafe);
    const viaKafkajs = simulate({
      count: 300,
      sensors: 10,
      seed: 2,
      startTime: new Date(),
      intervalMs: 1_000,
      rates: RATES,
    }).records;
    await kafka.produceWithKcat(
      TOPIC,
      viaKcat.map((r) => `${r.sensorId}|${Buffer.from(r.data).toString('utf8')}`),
    );
    const producer = await kafka.producer();
    await producer.send({
      topic: TOPIC,
      messages: viaKafkajs.map((r, i) => ({ key: i % 4 === 0 ? null : r.sensorId, value: Buffer.from(r.data) })),
    });
    const n = viaKcat.length + viaKafkajs.length;
    const expected = sum(countOutcomes(viaKcat), countOutcomes(viaKafkajs));
    for (const fault of Object.keys(RATES)) expect(expected[fault as keyof OutcomeCounts], fault).toBeGreaterThan(0);

    const landed = () =>
      count(stack.db, 'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n');
    await waitFor(landed, (x) => x >= n, 120_000, 'every Kafka record to land');
    await waitFor(
      () => source.refreshLag().then(() => source.status().lag),
      (lag) => lag === 0,
      30_000,
      'lag 0',
    );
    expect(await landed()).toBe(n);

    expect(await count(stack.db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(expected.valid);
    const byType = await stack.db.query<{ error_type: string; n: string }>(
      'SELECT error_type, count(*) AS n FROM sensor_errors GROUP BY 1',
    );
    const errors = Object.fromEntries(byType.rows.map((r) => [r.error_type, Number(r.n)]));
    for (const [outcome, want] of Object.entries(expected)) {
      if (outcome !== 'valid') expect(errors[outcome] ?? 0, outcome).toBe(want);
    }
    // Every row names one distinct Kafka record of the topic, and every offset is accounted for.
    const origins = await stack.db.query<{ kafka_partition: number; n: string; max: string }>(
      `SELECT kafka_partition, count(DISTINCT kafka_offset) AS n, max(kafka_offset) AS max
       FROM kafka_record_origins WHERE topic = $1 GROUP BY 1`,
      [TOPIC],
    );
    expect(origins.rows.reduce((s, r) => s + Number(r.n), 0)).toBe(n);
    for (const p of origins.rows) expect(Number(p.max) + 1, `partition ${p.kafka_partition}`).toBe(Number(p.n));
    expect(await count(stack.db, 'SELECT count(*) AS n FROM kafka_record_origins')).toBe(n);
  }, 180_000);
});
