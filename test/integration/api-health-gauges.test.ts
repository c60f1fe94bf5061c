/**
 * `GET /api/health`'s gauges on real parts.
 *
 * Locally (runtime/api-gauges.ts): an embedded stack (kinesalite, fauxqs, PostgreSQL, the Lambda
 * host) whose validator is the recording fixture, holding its batches until the test releases
 * them; the drainer's queue sources are off, so what the test puts in a queue stays there. Health
 * must count the held records per shard, age them past the late limit, and drop to nothing once
 * the batches are acknowledged and the checkpoint moves; queue depths (visible, in flight, both
 * dead-letter queues) must match what the test sent and received.
 *
 * On AWS (src/adapters/aws/pipeline-gauges.ts): the same adapter against the same real fauxqs and
 * kinesalite. CloudWatch has no emulator here, so GetMetricData goes to a small real HTTP server
 * in this file that answers CloudWatch's wire protocol (AWS JSON 1.0, `X-Amz-Target:
 * GraniteServiceVersion20100801.GetMetricData`, what this SDK version speaks) and records what
 * it was asked: the one stand-in of the file, because no real part can produce the metric.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiSettings } from '#config/api.js';
import { ConfigurationError } from '#config/env.js';
import type { HealthReply } from '#domain/api.js';
import { awsGauges } from '#lambdas/api/compose.js';
import { apiService } from '#runtime/api-service.js';
import { kafkaDoor } from '#runtime/kafka/service.js';
import { kafkaSkipReason, type MockKafka, startMockKafka } from '../support/kafka-broker.js';
import {
  copyTopology,
  LOADED_MACHINE_BOUND_MS,
  putRecords,
  startTestStack,
  type TestStack,
  waitFor,
  withFixtures,
} from '../support/runtime-stack.js';

let stack: TestStack;
let api: { url: string; token: string };

beforeAll(async () => {
  const topology = withFixtures(copyTopology(), { validator: 'test/fixtures/handlers/kinesis-recorder.ts' });
  stack = await startTestStack({
    topology,
    label: 'api_gauges',
    host: { enable: { sqs: false, schedules: false } },
    services: [
      apiService({
        port: 0,
        env: { STREAM_LATE_AFTER_SECONDS: '1', QUEUE_LATE_AFTER_MESSAGES: '2', API_SHARE_REPLIES_MS: '0' },
      }),
    ],
  });
  const door = stack.services[0]?.endpoints ?? {};
  api = { url: door.apiEndpoint ?? '', token: door.apiToken ?? '' };
}, LOADED_MACHINE_BOUND_MS);

afterAll(async () => {
  await stack?.db.query(`INSERT INTO fixture_releases (name) VALUES ('gauges')`).catch(() => undefined);
  await stack?.close();
});

async function health(): Promise<HealthReply> {
  const res = await fetch(`${api.url}/health`, { headers: { authorization: `Bearer ${api.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as HealthReply;
}

async function queueUrl(name: string): Promise<string> {
  return (await stack.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
}

const byName = (h: HealthReply) => new Map((h.queues ?? []).map((q) => [q.name, q]));

describe('health gauges of the local stack', () => {
  it('counts held records per shard, calls them late once old, and clears when the checkpoint moves', async () => {
    const idle = await health();
    expect(idle.shards?.map((s) => s.shardId).sort()).toHaveLength(stack.topology.stream.shardCount);
    expect(idle.shards?.every((s) => s.pending === 0 && s.lagMs === 0 && !s.late)).toBe(true);
    expect(idle.stream).toEqual({ iteratorAgeMs: 0, late: false });

    const put = await putRecords(
      stack,
      Array.from({ length: 24 }, (_, i) => ({ key: `sensor-${i}`, data: { i, holdUntil: 'gauges' } })),
    );
    const perShard = new Map<string, number>();
    for (const p of put) perShard.set(p.shardId, (perShard.get(p.shardId) ?? 0) + 1);
    expect(perShard.size).toBe(2); // 24 keys land on both shards

    // Held by the validator: pending exactly what was put per shard, aged past the 1 s limit.
    const held = await waitFor(
      health,
      (h) => h.stream?.late === true && (h.shards ?? []).every((s) => s.pending === (perShard.get(s.shardId) ?? 0)),
      LOADED_MACHINE_BOUND_MS,
      'health to report the held records as late',
    );
    for (const s of held.shards ?? []) {
      expect(s.lagMs).toBeGreaterThan(1_000);
      expect(s.late).toBe(true);
    }
    expect(held.stream?.iteratorAgeMs).toBe(Math.max(...(held.shards ?? []).map((s) => s.lagMs ?? 0)));
    // The validator really has them in flight (the gauges read the stream, not the source's buffer).
    expect(stack.host.status().shards.reduce((n, s) => n + s.outstanding, 0)).toBe(24);

    await stack.db.query('CREATE TABLE IF NOT EXISTS fixture_releases (name text)');
    await stack.db.query(`INSERT INTO fixture_releases (name) VALUES ('gauges')`);
    const cleared = await waitFor(
      health,
      (h) => (h.shards ?? []).every((s) => s.pending === 0 && s.lagMs === 0),
      LOADED_MACHINE_BOUND_MS,
      'health to clear once the batches are acknowledged',
    );
    expect(cleared.stream).toEqual({ iteratorAgeMs: 0, late: false });
    expect(stack.host.status().shards.every((s) => s.checkpoint !== undefined)).toBe(true);
  });

  it('reports the depth of the errors and failures queues and both dead-letter queues', async () => {
    const q = stack.topology.queues;
    const errorsUrl = stack.endpoints.errorsQueueUrl;
    for (let i = 0; i < 3; i++)
      await stack.sqs.send(new SendMessageCommand({ QueueUrl: errorsUrl, MessageBody: `e${i}` }));
    await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: await queueUrl(q.failures.deadLetterQueueName), MessageBody: 'lost' }),
    );
    const late = byName(await health());
    expect([...late.keys()].sort()).toEqual(
      [q.errors.name, q.failures.name, q.errors.deadLetterQueueName, q.failures.deadLetterQueueName].sort(),
    );
    expect(late.get(q.errors.name)).toEqual({ name: q.errors.name, visible: 3, inFlight: 0, dlq: false, late: true });
    expect(late.get(q.failures.deadLetterQueueName)).toMatchObject({ visible: 1, inFlight: 0, dlq: true, late: true });
    expect(late.get(q.errors.deadLetterQueueName)).toMatchObject({ visible: 0, inFlight: 0, dlq: true, late: false });
    expect(late.get(q.failures.name)).toMatchObject({ visible: 0, inFlight: 0, dlq: false, late: false });

    // One received and not deleted: in flight, and the backlog (2) is no longer over the limit (2).
    const got = await stack.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: errorsUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 300 }),
    );
    expect(got.Messages).toHaveLength(1);
    const after = byName(await health()).get(q.errors.name);
    expect(after).toEqual({ name: q.errors.name, visible: 2, inFlight: 1, dlq: false, late: false });
  });
});

interface CloudWatchCall {
  readonly target: string | undefined;
  readonly body: {
    StartTime: number;
    EndTime: number;
    MetricDataQueries: { Id: string; MetricStat: { Metric: Record<string, unknown>; Stat: string; Period: number } }[];
  };
}

/** Answers GetMetricData as CloudWatch's JSON protocol does, with the given values (newest first). */
async function cloudWatchServer(
  values: () => number[],
): Promise<{ server: Server; url: string; calls: CloudWatchCall[] }> {
  const calls: CloudWatchCall[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CloudWatchCall['body'];
    calls.push({ target: req.headers['x-amz-target'] as string | undefined, body });
    const now = Date.now() / 1000;
    const list = values();
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(
      JSON.stringify({
        MetricDataResults: body.MetricDataQueries.map((q) => ({
          Id: q.Id,
          Label: 'IteratorAge',
          StatusCode: 'Complete',
          Timestamps: list.map((_, i) => now - 60 * i),
          Values: list,
        })),
        Messages: [],
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

describe('health gauges on AWS (the adapter against fauxqs, kinesalite and a CloudWatch-protocol server)', () => {
  it('reads queue depths, the open shards and the validator iterator age from the settings', async () => {
    let values = [4_200, 900];
    const cw = await cloudWatchServer(() => values);
    try {
      const q = stack.topology.queues;
      const settings = readApiSettings({
        AWS_REGION: stack.endpoints.region,
        STREAM_NAME: stack.endpoints.streamName,
        VALIDATOR_FUNCTION_NAME: 'iot-validator',
        ERRORS_QUEUE_URL: stack.endpoints.errorsQueueUrl,
        FAILURES_DLQ_URL: await queueUrl(q.failures.deadLetterQueueName),
        KINESIS_ENDPOINT: stack.endpoints.kinesisEndpoint,
        SQS_ENDPOINT: stack.endpoints.sqsEndpoint,
        CLOUDWATCH_ENDPOINT: cw.url,
      });
      const gauges = awsGauges(settings);
      const queues = await gauges.queues();
      // Only the two configured queues; depths as the local test above left them (2 + 1 in flight; 1).
      expect(queues).toEqual([
        { name: q.errors.name, visible: 2, inFlight: 1, dlq: false },
        { name: q.failures.deadLetterQueueName, visible: 1, inFlight: 0, dlq: true },
      ]);
      const stream = await gauges.stream();
      expect(stream?.iteratorAgeMs).toBe(4_200);
      expect(stream?.shards.map((s) => s.shardId).sort()).toEqual(
        stack.host
          .status()
          .shards.map((s) => s.shardId)
          .sort(),
      );
      expect(stream?.shards.every((s) => s.lagMs === null && s.pending === null)).toBe(true);

      const call = cw.calls.at(-1);
      expect(call?.target).toBe('GraniteServiceVersion20100801.GetMetricData');
      expect(call?.body.MetricDataQueries[0]?.MetricStat).toMatchObject({
        Metric: {
          Namespace: 'AWS/Lambda',
          MetricName: 'IteratorAge',
          Dimensions: [{ Name: 'FunctionName', Value: 'iot-validator' }],
        },
        Stat: 'Maximum',
        Period: 60,
      });
      expect((call?.body.EndTime ?? 0) - (call?.body.StartTime ?? 0)).toBe(300);

      // No batch delivered lately: no datapoint, so the age is unknown (null), not 0.
      values = [];
      expect((await gauges.stream())?.iteratorAgeMs).toBeNull();
    } finally {
      cw.server.close();
    }
  });

  it('reports null gauges where nothing is configured, and refuses a bad queue URL at start', async () => {
    const gauges = awsGauges(readApiSettings({}));
    expect(await gauges.queues()).toBeNull();
    expect(await gauges.stream()).toBeNull();
    expect(() => readApiSettings({ ERRORS_DLQ_URL: 'not a url' })).toThrow(ConfigurationError);
    expect(() => readApiSettings({ ERRORS_DLQ_URL: 'not a url' })).toThrow(/ERRORS_DLQ_URL/);
  });
});

const kafkaSkip = kafkaSkipReason();

describe.skipIf(kafkaSkip !== undefined)(
  `health gauges with the Kafka door on${kafkaSkip ? ` (skipped: ${kafkaSkip})` : ''}`,
  () => {
    let kafka: MockKafka;
    let withKafka: TestStack;

    afterAll(async () => {
      await withKafka?.close();
      await kafka?.stop();
    });

    it("lists the topic's partitions after the shards, with the consumer group's lag as pending", async () => {
      kafka = await startMockKafka();
      const topic = 'gauges';
      await kafka.produceWithKcat(topic, ['{"a":1}', '{"a":2}', '{"a":3}', '{"a":4}', '{"a":5}']);
      // A bridge that always fails: the source retries, so nothing is committed and the lag stays.
      const topology = withFixtures(copyTopology(), { kafkaBridge: 'test/fixtures/handlers/always-fails.ts' });
      withKafka = await startTestStack({
        topology,
        label: 'api_gauges_kafka',
        host: { enable: { sqs: false, schedules: false } },
        services: [
          apiService({ port: 0, env: { API_SHARE_REPLIES_MS: '0' } }),
          kafkaDoor({ bootstrap: kafka.bootstrap, topic }),
        ],
      });
      const door = withKafka.services[0]?.endpoints ?? {};
      const ask = async (): Promise<HealthReply> => {
        const res = await fetch(`${door.apiEndpoint}/health`, {
          headers: { authorization: `Bearer ${door.apiToken}` },
        });
        return (await res.json()) as HealthReply;
      };
      const kafkaShards = (h: HealthReply) => (h.shards ?? []).filter((s) => s.shardId.startsWith(`kafka ${topic}/`));
      const seen = await waitFor(
        ask,
        (h) => kafkaShards(h).reduce((n, s) => n + (s.pending ?? 0), 0) === 5,
        LOADED_MACHINE_BOUND_MS,
        'the Kafka partitions with 5 records pending',
      );
      expect(kafkaShards(seen).every((s) => s.lagMs === null && !s.late)).toBe(true);
      // The Kinesis shards are still there, first.
      expect(seen.shards?.slice(0, topology.stream.shardCount).every((s) => s.shardId.startsWith('shardId-'))).toBe(
        true,
      );
    });
  },
);
