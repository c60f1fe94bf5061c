/**
 * The Kafka door's benchmark: how fast readings already in a Kafka topic reach the Kinesis
 * stream through the door (the local Kafka event source, which consumes and batches, and the
 * real bridge handler, which writes with PutRecords), against writing the same readings into the
 * same stream with PutRecords directly (the producer's writer, 500 records a call, one call at a
 * time), side by side in one run, after a warm-up of both the client and kinesalite.
 *
 * What lies behind the stream (validator, PostgreSQL) is the same for both paths and is measured
 * by the e2e benchmark; including it here would only pull the ratio towards 1.
 *
 * The broker is librdkafka's mock cluster (kcat); without kcat the benchmark fails with that
 * reason. The bridge runs in this process, as the subject's function; its events are the ones the
 * local source builds. The rate counts from the first delivery to the last acknowledgement, so
 * the consumer group's join (seconds, once per start) is not in it.
 */
import { randomUUID } from 'node:crypto';
import { CreateStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';
import { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import { simulate } from '#domain/fleet.js';
import { startKinesalite, startSqsEmulator } from '#runtime/embedded/emulators.js';
import { KafkaEventSource, type KafkaSourceSettings } from '#runtime/host/kafka-source.js';
import { toErrorPayload } from '#runtime/host/protocol.js';
import { KCAT, startMockKafka } from '#runtime/kafka/mock-cluster.js';

export interface KafkaBenchResult {
  readonly records: number;
  readonly bytes: number;
  readonly settings: KafkaSourceSettings;
  readonly subject: {
    readonly recordsPerSecond: number;
    readonly seconds: number;
    readonly invocations: number;
    readonly recordsPerInvocation: number;
  };
  readonly baseline: { readonly recordsPerSecond: number; readonly seconds: number; readonly putRecordsCalls: number };
  /** subject ÷ baseline. */
  readonly ratio: number;
}

const REGION = 'us-east-1';

/** The local source's settings in the benchmark: the Kafka source's batch size and window. */
export const KAFKA_BENCH_SETTINGS: KafkaSourceSettings = {
  batchSize: 500,
  maxBatchingWindowSeconds: 0.5,
  bisectBatchOnError: true,
  retryAttempts: 5,
  maxRecordAgeSeconds: -1,
  reportBatchItemFailures: true,
  startingPosition: 'TRIM_HORIZON',
};

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function createStream(kinesis: KinesisClient, name: string): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
}

export async function benchKafka(options: {
  readonly records: number;
  readonly sensors: number;
  readonly settings: KafkaSourceSettings;
  readonly log: (message: string) => void;
}): Promise<KafkaBenchResult> {
  if (!KCAT) throw new Error('kcat is not installed (apt-get install -y kcat): no Kafka broker to measure against');
  const { records: n, log, settings } = options;
  const kafka = await startMockKafka();
  const kinesalite = await startKinesalite({ port: 0 });
  const sqsEmulator = await startSqsEmulator({ port: 0, region: REGION });
  const kinesis = createKinesisClient({ region: REGION, endpoint: kinesalite.url });
  const sqs = createSqsClient({ region: REGION, endpoint: sqsEmulator.url });
  let source: KafkaEventSource | undefined;
  try {
    const streamName = 'bench_kafka';
    await createStream(kinesis, streamName);
    const readings = simulate({
      count: n,
      sensors: options.sensors,
      seed: 7,
      startTime: new Date(),
      intervalMs: 1_000,
    });
    const bytes = readings.records.reduce((sum, r) => sum + r.data.length, 0);

    const topic = 'iot_sensor_data';
    log(`kafka: filling topic ${topic} with the same ${n} records`);
    const producer = await kafka.producer();
    for (let i = 0; i < readings.records.length; i += 1_000) {
      await producer.send({
        topic,
        messages: readings.records.slice(i, i + 1_000).map((r) => ({ key: r.sensorId, value: Buffer.from(r.data) })),
      });
    }

    // Warm the SDK client and kinesalite (connections, JIT) before either side is timed.
    const writer = new KinesisStreamWriter(kinesis, streamName);
    await writer.write(readings.records.slice(0, Math.min(n, 1_000)));

    Object.assign(process.env, {
      STREAM_NAME: streamName,
      KINESIS_ENDPOINT: kinesalite.url,
      AWS_REGION: REGION,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    const { handler } = await import('#lambdas/kafka-bridge/handler.js');
    const failuresQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'bench-kafka-failures' })))
      .QueueUrl as string;
    let firstInvoke: number | undefined;
    source = new KafkaEventSource({
      settings,
      brokers: kafka.bootstrap.split(','),
      topic,
      consumerGroupId: 'bench-kafka-bridge',
      sqs,
      onFailureQueueUrl: failuresQueueUrl,
      target: {
        functionName: 'iot-kafka-bridge',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-kafka-bridge',
        invoke: async (event) => {
          firstInvoke ??= performance.now();
          const requestId = randomUUID();
          const started = performance.now();
          try {
            const payload = await handler(event as Parameters<typeof handler>[0], benchContext(requestId));
            return { ok: true, payload, requestId, durationMs: performance.now() - started };
          } catch (error) {
            return { ok: false, error: toErrorPayload(error), functionError: 'Unhandled', requestId, durationMs: 0 };
          }
        },
      },
    });
    log('kafka: subject, the same records from the topic through the local source and the bridge');
    await source.start();
    await waitUntil(() => (source?.stats.acknowledged ?? 0) >= n, 600_000, `${n} records through the bridge`);
    const subjectSeconds = (performance.now() - (firstInvoke ?? performance.now())) / 1000;
    if (source.stats.noticesSent > 0) throw new Error(`subject: ${source.stats.recordsGivenUp} records given up`);
    log(`kafka: baseline, ${n} records straight into the stream with PutRecords`);
    const t0 = performance.now();
    const direct = await writer.write(readings.records);
    const baselineSeconds = (performance.now() - t0) / 1000;
    if (direct.failed.length > 0) throw new Error(`baseline: ${direct.failed.length} records not written`);

    const subjectRate = n / subjectSeconds;
    const baselineRate = n / baselineSeconds;
    return {
      records: n,
      bytes,
      settings,
      subject: {
        recordsPerSecond: Math.round(subjectRate),
        seconds: Math.round(subjectSeconds * 1000) / 1000,
        invocations: source.stats.invocations,
        recordsPerInvocation: Math.round(n / Math.max(1, source.stats.invocations)),
      },
      baseline: {
        recordsPerSecond: Math.round(baselineRate),
        seconds: Math.round(baselineSeconds * 1000) / 1000,
        putRecordsCalls: direct.calls,
      },
      ratio: Number((subjectRate / baselineRate).toPrecision(3)),
    };
  } finally {
    await source?.stop();
    kinesis.destroy();
    sqs.destroy();
    await Promise.all([kafka.stop(), kinesalite.stop(), sqsEmulator.stop()]);
  }
}

function benchContext(awsRequestId: string) {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'iot-kafka-bridge',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-kafka-bridge',
    memoryLimitInMB: '256',
    awsRequestId,
    logGroupName: '/aws/lambda/iot-kafka-bridge',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
