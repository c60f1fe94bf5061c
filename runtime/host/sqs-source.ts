/**
 * The SQS event source mapping of the embedded host, with AWS's semantics: long-poll the queue,
 * invoke with up to `batchSize` messages, delete what succeeded. Messages of a failed
 * invocation, and the items named in a partial batch response, are not deleted: they become
 * visible again after the queue's visibility timeout, and the queue itself (its redrive
 * policy) moves a message to its DLQ once it has been received `maxReceiveCount` times.
 * Redrive is the queue's job on AWS too, so the host does not re-implement it.
 */
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { sleep } from '#adapters/retry.js';
import type { SqsSourceSpec } from '#topology.js';
import { readBatchResponse } from './batch-response.js';
import type { EventSource, EventSourceContext, EventSourceKind, Invoker } from './event-source.js';
import { sqsEvent } from './events.js';

export interface SqsSourceOptions {
  readonly spec: SqsSourceSpec;
  readonly queueUrl: string;
  readonly queueName: string;
  readonly region: string;
  readonly sqs: SQSClient;
  readonly target: Invoker;
  /** Concurrent pollers (Lambda starts with several and scales with the backlog). */
  readonly pollers?: number;
  readonly log?: ((message: string) => void) | undefined;
}

export class SqsEventSource implements EventSource {
  readonly kind = 'sqs';
  readonly intake = false;
  readonly stats = { received: 0, deleted: 0, invocations: 0, failedInvocations: 0 };
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(readonly options: SqsSourceOptions) {}

  async start(): Promise<void> {
    const n = Math.max(1, this.options.pollers ?? 5);
    this.loops = Array.from({ length: n }, () => this.loop());
  }

  /** Stops polling; batches in flight finish and delete what they completed. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const out = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return out.Messages ?? [];
  }

  private async loop(): Promise<void> {
    const { spec } = this.options;
    while (!this.stopping) {
      let messages: Message[];
      try {
        // Short long-polls so a stop request is honoured within about a second.
        messages = await this.receive(spec.batchSize, 1);
        const windowEnds = Date.now() + spec.maxBatchingWindowSeconds * 1000;
        while (messages.length > 0 && messages.length < spec.batchSize && Date.now() < windowEnds && !this.stopping) {
          const more = await this.receive(spec.batchSize - messages.length, 0);
          if (more.length === 0) await sleep(50);
          messages.push(...more);
        }
      } catch (error) {
        if (this.stopping) break;
        this.options.log?.(
          `sqs: ReceiveMessage on ${this.options.queueName} failed (${(error as Error).message}); retrying`,
        );
        await sleep(1_000);
        continue;
      }
      if (messages.length === 0) continue;
      this.stats.received += messages.length;
      await this.deliver(messages);
    }
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { spec, target, region, queueName } = this.options;
    const outcome = await target.invoke(sqsEvent(messages, { region, queueName }));
    this.stats.invocations++;
    let done: Message[] = [];
    if (outcome.ok) {
      const verdict = spec.reportBatchItemFailures
        ? readBatchResponse(
            outcome.payload,
            messages.map((m) => m.MessageId ?? ''),
          )
        : { kind: 'success' as const };
      if (verdict.kind === 'success') done = messages;
      else if (verdict.kind === 'partial') {
        const failed = new Set(verdict.failed);
        done = messages.filter((_, i) => !failed.has(i));
        this.stats.failedInvocations++;
      } else this.stats.failedInvocations++;
    } else {
      this.stats.failedInvocations++;
    }
    await this.delete(done);
  }

  private async delete(messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      try {
        const out = await this.options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
        this.stats.deleted += out.Successful?.length ?? 0;
      } catch (error) {
        // Not deleted means delivered again later: at-least-once, the drainer is idempotent.
        this.options.log?.(`sqs: DeleteMessageBatch on ${this.options.queueName} failed (${(error as Error).message})`);
      }
    }
  }
}

/** The topology's SQS event source mappings, for the host (event-source.ts). */
export const sqsSources: EventSourceKind = {
  kind: 'sqs',
  create: (context: EventSourceContext) =>
    context.topology.sqsSources.map((spec) => {
      const { region, sqs, log, queueUrls, topology } = context;
      const queueName = topology.queues[spec.queue].name;
      return new SqsEventSource({
        spec,
        region,
        sqs,
        log,
        queueName,
        queueUrl: queueUrls[spec.queue],
        target: context.target(spec.function),
      });
    }),
};
