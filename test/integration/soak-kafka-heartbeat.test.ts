/**
 * Found by the soak (soak/): the Kafka door stalled for minutes when one invocation of the bridge
 * outlasted the consumer group's session timeout (a cold start compiling the handler on a loaded
 * machine): the consumer stopped heartbeating while it waited, the group dropped it, and its
 * commits then failed and were retried for minutes while every record behind them waited. The
 * records were acknowledged by Kafka and were not in the database when the run ended.
 *
 * Real broker (librdkafka's mock cluster, kcat) and the real local Kafka event source; the
 * function is an in-process invoker whose first invocation takes longer than the session
 * timeout (10 s), as a cold start did.
 */
import { randomUUID } from 'node:crypto';
import type { SelfManagedKafkaEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '#adapters/retry.js';
import type { Invoker } from '#runtime/host/event-source.js';
import { KafkaEventSource } from '#runtime/host/kafka-source.js';
import { type RunningSqs, startSqs } from '../support/emulators.js';
import { kafkaSkipReason, type MockKafka, startMockKafka } from '../support/kafka-broker.js';

const skip = kafkaSkipReason();
const RECORDS = 40;
/** Longer than the source's 10 s session timeout. */
const FIRST_INVOCATION_MS = 14_000;

let kafka: MockKafka;
let sqs: RunningSqs;

beforeAll(async () => {
  if (skip) return;
  kafka = await startMockKafka();
  sqs = await startSqs();
}, 60_000);

afterAll(async () => {
  await kafka?.stop();
  await sqs?.stop();
});

describe('Kafka event source with an invocation longer than the session timeout', () => {
  it.skipIf(skip)(
    'keeps its group membership and commits every record',
    async () => {
      const topic = `slow-${randomUUID()}`;
      const group = `g-${randomUUID()}`;
      const delivered = new Map<string, number>();
      let invocations = 0;
      const target: Invoker = {
        functionName: 'iot-kafka-bridge',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-kafka-bridge',
        invoke: async (event) => {
          if (invocations++ === 0) await sleep(FIRST_INVOCATION_MS);
          for (const records of Object.values((event as SelfManagedKafkaEvent).records))
            for (const r of records) {
              const id = `${r.partition}-${r.offset}`;
              delivered.set(id, (delivered.get(id) ?? 0) + 1);
            }
          return { ok: true, payload: { batchItemFailures: [] }, requestId: randomUUID(), durationMs: 0 };
        },
      };
      const log: string[] = [];
      const producer = await kafka.producer();
      await producer.send({
        topic,
        messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i % 4}`, value: `{"n":${i}}` })),
      });
      const source = new KafkaEventSource({
        settings: {
          batchSize: 100,
          maxBatchingWindowSeconds: 0.2,
          bisectBatchOnError: true,
          retryAttempts: 3,
          maxRecordAgeSeconds: -1,
          reportBatchItemFailures: true,
          startingPosition: 'TRIM_HORIZON',
        },
        brokers: kafka.bootstrap.split(','),
        topic,
        consumerGroupId: group,
        target,
        sqs: sqs.client,
        onFailureQueueUrl: 'http://127.0.0.1:1/none',
        lagRefreshMs: 200,
        log: (line) => log.push(line),
      });
      await source.start();
      try {
        const deadline = Date.now() + FIRST_INVOCATION_MS + 40_000;
        while (Date.now() < deadline) {
          await source.refreshLag().catch(() => undefined);
          const status = source.status();
          if (delivered.size === RECORDS && status.partitions.length > 0 && status.lag === 0) break;
          await sleep(200);
        }
        expect(invocations).toBeGreaterThan(0);
        expect(delivered.size).toBe(RECORDS);
        expect(source.status().lag).toBe(0);
        // The group never dropped the consumer: no commit was refused for an unknown member.
        expect(log.filter((l) => /not aware of this member/.test(l))).toEqual([]);
      } finally {
        await source.stop();
      }
    },
    120_000,
  );
});
