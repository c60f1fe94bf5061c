/**
 * Real emulators for tests, each on a port the OS picks: fauxqs (SQS) and kinesalite (Kinesis).
 */

import type { AddressInfo } from 'node:net';
import { CreateStreamCommand, type KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import kinesalite from 'kinesalite';
import { createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';

export const REGION = 'us-east-1';

export interface RunningSqs {
  readonly endpoint: string;
  readonly client: SQSClient;
  createQueue(name: string, attributes?: Record<string, string>): Promise<string>;
  /** Every message now visible in the queue, deleted as read, in the order received. */
  takeAll(queueUrl: string): Promise<QueuedMessage[]>;
  stop(): Promise<void>;
}

export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
}

export async function startSqs(): Promise<RunningSqs> {
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const client = createSqsClient({ region: REGION, endpoint });
  return {
    endpoint,
    client,
    createQueue: async (name, attributes) =>
      (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl as string,
    takeAll: (queueUrl) => takeAll(client, queueUrl),
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

async function takeAll(client: SQSClient, queueUrl: string): Promise<QueuedMessage[]> {
  const all: QueuedMessage[] = [];
  for (;;) {
    const out = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return all;
    all.push(...messages.map((m) => ({ messageId: m.MessageId as string, body: m.Body as string })));
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

export interface RunningKinesis {
  readonly endpoint: string;
  readonly client: KinesisClient;
  createStream(name: string, shardCount: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startKinesis(): Promise<RunningKinesis> {
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 50 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = createKinesisClient({ region: REGION, endpoint });
  return {
    endpoint,
    client,
    createStream: async (name, shardCount) => {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
      const shards = await client.send(new ListShardsCommand({ StreamName: name }));
      return (shards.Shards ?? []).map((s) => s.ShardId as string);
    },
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
