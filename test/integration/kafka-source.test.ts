/**
 * The local Kafka event source against a real Kafka-protocol broker (librdkafka's mock cluster,
 * from kcat), delivering to the real bridge handler (in process) that writes to a real Kinesis
 * API (kinesalite, behind a relay that can cut it). Outcomes are read from the stream, the
 * on-failure queue (fauxqs) and the broker's committed offsets.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SelfManagedKafkaEvent } from 'aws-lambda';
import type { ISocketFactory } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseOriginPartitionKey } from '#domain/kafka-record.js';
import type { Invoker } from '#runtime/host/event-source.js';
import { KafkaEventSource, type KafkaSourceSettings } from '#runtime/host/kafka-source.js';
import { toErrorPayload } from '#runtime/host/protocol.js';
import { type RunningKinesis, type RunningSqs, startKinesis, startSqs } from '../support/emulators.js';
import { aReading, lambdaContext } from '../support/factories.js';
import {
  cuttableNetwork,
  kafkaSkipReason,
  type MockKafka,
  type Relay,
  startMockKafka,
  startRelay,
} from '../support/kafka-broker.js';
import { readWholeStream } from '../support/kafka-events.js';

const skip = kafkaSkipReason();

const SETTINGS: KafkaSourceSettings = {
  batchSize: 50,
  maxBatchingWindowSeconds: 0.2,
  bisectBatchOnError: true,
  retryAttempts: 3,
  maxRecordAgeSeconds: -1,
  reportBatchItemFailures: true,
  startingPosition: 'TRIM_HORIZON',
};

let kafka: MockKafka;
let kinesis: RunningKinesis;
let relay: Relay;
let sqs: RunningSqs;
let failuresQueueUrl: string;
let bridge: (event: SelfManagedKafkaEvent) => Promise<unknown>;
const sources: KafkaEventSource[] = [];
let counter = 0;

/** The bridge handler as the host's containers run it, in process, recording every event. */
function bridgeInvoker(events: SelfManagedKafkaEvent[]): Invoker {
  return {
    functionName: 'iot-kafka-bridge',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-kafka-bridge',
    invoke: async (event) => {
      const requestId = randomUUID();
      events.push(event as SelfManagedKafkaEvent);
      try {
        return { ok: true, payload: await bridge(event as SelfManagedKafkaEvent), requestId, durationMs: 0 };
      } catch (error) {
        return { ok: false, error: toErrorPayload(error), functionError: 'Unhandled', requestId, durationMs: 0 };
      }
    },
  };
}

async function startSource(
  topic: string,
  group: string,
  events: SelfManagedKafkaEvent[],
  settings = SETTINGS,
  socketFactory?: ISocketFactory,
) {
  const source = new KafkaEventSource({
    ...(socketFactory ? { socketFactory } : {}),
    settings,
    brokers: kafka.bootstrap.split(','),
    topic,
    consumerGroupId: group,
    target: bridgeInvoker(events),
    sqs: sqs.client,
    onFailureQueueUrl: failuresQueueUrl,
    retryDelayMs: () => 50,
    lagRefreshMs: 200,
  });
  sources.push(source);
  await source.start();
  return source;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Distinct Kafka origins in the stream, and how many stream records carry them. */
async function originsInStream(streamName: string) {
  const records = await readWholeStream(kinesis.client, streamName);
  const origins = new Map<string, number>();
  for (const r of records) {
    const o = parseOriginPartitionKey(r.partitionKey);
    const id = o ? `${o.topic}-${o.partition}-${o.offset}` : `foreign:${r.partitionKey}`;
    origins.set(id, (origins.get(id) ?? 0) + 1);
  }
  return { records, origins };
}

async function waitForOrigins(streamName: string, n: number, timeoutMs?: number) {
  return waitFor(
    `${n} origins in ${streamName}`,
    async () => {
      const s = await originsInStream(streamName);
      return s.origins.size >= n ? s : undefined;
    },
    timeoutMs,
  );
}

async function newStream(): Promise<string> {
  const name = `kafka_source_${++counter}`;
  await kinesis.createStream(name, 2);
  vi.resetModules();
  Object.assign(process.env, {
    STREAM_NAME: name,
    KINESIS_ENDPOINT: relay.endpoint,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const { handler } = await import('#lambdas/kafka-bridge/handler.js');
  bridge = (event) => handler(event, lambdaContext('iot-kafka-bridge'));
  return name;
}

describe.skipIf(skip !== undefined)(`local Kafka event source${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    [kafka, kinesis, sqs] = await Promise.all([startMockKafka(), startKinesis(), startSqs()]);
    const url = new URL(kinesis.endpoint);
    relay = await startRelay({ host: url.hostname, port: Number(url.port) });
    failuresQueueUrl = await sqs.createQueue('iot-ingest-failures');
  });

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.stop()));
    relay.up();
  });

  afterAll(async () => {
    await Promise.all([kafka?.stop(), kinesis?.stop(), sqs?.stop(), relay?.stop()]);
  });

  it('delivers messages from kcat and from kafkajs as Kafka events, each forwarded once, and commits them all', async () => {
    const streamName = await newStream();
    const topic = `iot_sensor_data_${counter}`;
    const group = `bridge-${counter}`;
    const kcatLines = Array.from({ length: 150 }, (_, i) =>
      i % 3 === 0 ? `not json ${i}` : `sensor-${i % 7}|${JSON.stringify(aReading({ sensor_id: `sensor-${i % 7}` }))}`,
    );
    await kafka.produceWithKcat(topic, kcatLines);
    const producer = await kafka.producer();
    await producer.send({
      topic,
      messages: Array.from({ length: 150 }, (_, i) => ({
        key: i % 5 === 0 ? null : `sensor-${i % 11}`,
        value: i % 10 === 0 ? Buffer.from([0xff, 0x00, 0xfe, i]) : JSON.stringify(aReading({ n: i })),
        headers: { source: 'kafkajs', seq: String(i) },
      })),
    });
    const events: SelfManagedKafkaEvent[] = [];
    const source = await startSource(topic, group, events);
    const { records, origins } = await waitForOrigins(streamName, 300);
    expect(records).toHaveLength(300);
    expect([...origins.values()].every((n) => n === 1)).toBe(true);

    // Event shape: records keyed by topic-partition, at most batchSize each, headers as byte lists.
    for (const event of events) {
      expect(event.eventSource).toBe('SelfManagedKafka');
      expect(event.bootstrapServers).toBe(kafka.bootstrap);
      const groups = Object.entries(event.records);
      expect(groups.length).toBeGreaterThan(0);
      for (const [key, list] of groups) {
        expect(list.length).toBeLessThanOrEqual(SETTINGS.batchSize);
        for (const r of list) expect(`${r.topic}-${r.partition}`).toBe(key);
      }
    }
    const withHeader = events.flatMap((e) => Object.values(e.records).flat()).find((r) => r.headers.length > 0);
    expect(Buffer.from(withHeader?.headers[0]?.source ?? []).toString()).toBe('kafkajs');
    // kcat's bytes and kafkajs's bytes, unchanged.
    const values = new Set(records.map((r) => Buffer.from(r.data).toString('base64')));
    for (const line of kcatLines) {
      const value = line.includes('|') ? line.slice(line.indexOf('|') + 1) : line;
      expect(values.has(Buffer.from(value).toString('base64')), value).toBe(true);
    }
    expect(values.has(Buffer.from([0xff, 0x00, 0xfe, 0]).toString('base64'))).toBe(true);

    const status = await waitFor('lag 0', async () => {
      await source.refreshLag();
      const s = source.status();
      return s.lag === 0 && s.partitions.length === 4 ? s : undefined;
    });
    expect(status.partitions.reduce((n, p) => n + Number(p.committed), 0)).toBe(300);
  });

  it('retries without loss when the stream becomes unavailable mid-batch', async () => {
    const streamName = await newStream();
    const topic = `outage_${counter}`;
    const producer = await kafka.producer();
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"m":${i}}` })) });
    const events: SelfManagedKafkaEvent[] = [];
    const source = await startSource(topic, `bridge-${counter}`, events);
    await waitFor('some forwarded', async () => (source.stats.acknowledged >= 20 ? true : undefined));
    relay.down();
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"m":${100 + i}}` })) });
    await waitFor('a failed invocation', async () => (source.stats.failedInvocations > 0 ? true : undefined));
    relay.up();
    const { origins } = await waitForOrigins(streamName, 200);
    expect(origins.size).toBe(200);
    expect(source.stats.noticesSent).toBe(0);
    await waitFor('lag 0', async () => {
      await source.refreshLag();
      return source.status().lag === 0 ? true : undefined;
    });
  });

  it('loses nothing when the consumer is stopped and restarted mid-stream', async () => {
    const streamName = await newStream();
    const topic = `restart_${counter}`;
    const group = `bridge-${counter}`;
    const producer = await kafka.producer();
    await producer.send({ topic, messages: Array.from({ length: 400 }, (_, i) => ({ value: `{"r":${i}}` })) });
    const first = await startSource(topic, group, [], { ...SETTINGS, batchSize: 10 });
    await waitFor('some acknowledged', async () => (first.stats.acknowledged >= 40 ? true : undefined));
    await first.stop();
    expect(first.stats.acknowledged).toBeLessThan(400);
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"r":${400 + i}}` })) });
    await startSource(topic, group, []);
    const { origins } = await waitForOrigins(streamName, 500);
    expect(origins.size).toBe(500);
    // A restart may forward records again that were sent but not yet committed, never skip one.
    expect([...origins.keys()].every((k) => !k.startsWith('foreign'))).toBe(true);
  });

  it('gives up on a poison record alone: its neighbours are forwarded and a notice names it', async () => {
    const streamName = await newStream();
    const topic = `poison_${counter}`;
    const producer = await kafka.producer();
    const messages = Array.from({ length: 20 }, (_, i) => ({
      value: i === 7 ? Buffer.alloc(1024 * 1024 + 10, 0x41) : `{"p":${i}}`,
    }));
    await producer.send({ topic, messages, acks: -1 });
    const source = await startSource(topic, `bridge-${counter}`, [], { ...SETTINGS, retryAttempts: 1 });
    await waitForOrigins(streamName, 19);
    const notice = await waitFor('the notice', async () => {
      const out = await sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: failuresQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      return out.Messages?.[0]?.Body;
    });
    // The bridge names only the poison; the source resumes there and, as Lambda does after a
    // partial response, retries from it, so the notice's range starts at the poison and may
    // cover neighbours after it that the retries had already forwarded.
    const info = JSON.parse(notice).KafkaBatchInfo;
    expect(info.topic).toBe(topic);
    const poison = await waitFor('the poison record', async () => {
      const all = await originsInStream(streamName);
      return all.origins.size === 19 ? all : undefined;
    });
    const poisonOrigin = `${topic}-${info.partition}-${info.firstRecordOffset}`;
    expect(poison.origins.has(poisonOrigin)).toBe(false);
    expect(poison.records.every((r) => r.data.length < 1024)).toBe(true);
    expect(source.stats.noticesSent).toBe(1);
    expect(source.stats.recordsGivenUp).toBe(info.batchSize);
  });

  it('survives the broker going away and coming back: resumes from its commits, loses nothing', async () => {
    const streamName = await newStream();
    const topic = `broker_outage_${counter}`;
    const producer = await kafka.producer();
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"b":${i}}` })) });
    const network = cuttableNetwork();
    const source = await startSource(
      topic,
      `bridge-${counter}`,
      [],
      { ...SETTINGS, batchSize: 10 },
      network.socketFactory,
    );
    await waitFor('some acknowledged', async () => (source.stats.acknowledged >= 20 ? true : undefined));
    network.down();
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, i) => ({ value: `{"b":${100 + i}}` })) });
    // The source has lost the broker: its lag, read every 200 ms, has not been refreshed for 2 s.
    await waitFor('the source to lose the broker', async () => {
      const at = source.status().lagReadAt?.getTime() ?? 0;
      return Date.now() - at > 2_000 ? true : undefined;
    });
    network.up();
    const { origins } = await waitForOrigins(streamName, 200, 90_000);
    expect(origins.size).toBe(200);
    await waitFor(
      'lag 0',
      async () => {
        await source.refreshLag();
        return source.status().lag === 0 ? true : undefined;
      },
      60_000,
    );
  });
});
