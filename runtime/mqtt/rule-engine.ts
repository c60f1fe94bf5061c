/**
 * The local rule engine: the embedded twin of the MQTT door's IoT topic rule. It reads the same
 * topology entry as the CDK rule (topic filter, partition key template, error destination) and
 * forwards each accepted message's bytes, unchanged, into the stream in batched PutRecords with
 * retries (src/adapters/kinesis/stream-writer.ts).
 *
 * Stricter than AWS on purpose: IoT Core acknowledges a publish when its broker has it and the
 * rule's error action covers a failed forward afterwards; here {@link LocalRuleEngine.forward}
 * resolves only when the record is in the stream (or, after `holdMs` of retries, in the error
 * destination), and the broker sends the PUBACK only then. A message that reached neither is
 * refused, the broker drops the device's connection without a PUBACK, and the device resends it
 * (DESIGN.md section 10: a door acknowledges its sender only when the record is in the stream).
 *
 * Batching: messages that arrive while a PutRecords call is out wait for the next call, so the
 * batch size follows the load (one record when idle, hundreds under load) without a timer.
 * One call at a time, as the stream writer recommends.
 */
import { randomUUID } from 'node:crypto';
import type { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import type { OutgoingRecord } from '#domain/ports.js';
import {
  assertSupportedTemplate,
  matchesTopicFilter,
  type RuleErrorMessage,
  renderTemplate,
} from '#domain/topic-rule.js';
import type { MqttDoorSpec } from '#topology.js';

export interface RuleMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly clientId: string;
}

/** The error action's target: one message body in, durable when the promise resolves. */
export interface ErrorDestination {
  send(body: string): Promise<void>;
}

export type ForwardResult = 'stream' | 'error-destination';

export interface RuleEngineOptions {
  readonly door: Pick<MqttDoorSpec, 'topicFilter' | 'partitionKey' | 'ruleName'>;
  readonly streamName: string;
  readonly writer: Pick<KinesisStreamWriter, 'write'>;
  readonly errorDestination?: ErrorDestination | undefined;
  /** How long a message is retried against the stream before the error destination takes it. */
  readonly holdMs?: number;
  /** Pause between two rounds of retries while the stream refuses. */
  readonly retryPauseMs?: number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

interface Pending extends OutgoingRecord {
  readonly message: RuleMessage;
  readonly deadline: number;
  lastError: string;
  resolve(result: ForwardResult): void;
  reject(error: Error): void;
}

export class ForwardRefusedError extends Error {
  override readonly name = 'ForwardRefusedError';
}

export interface RuleEngineStats {
  readonly forwarded: number;
  readonly toErrorDestination: number;
  readonly refused: number;
  readonly putRecordsCalls: number;
}

export class LocalRuleEngine {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  private closed = false;
  private stats = { forwarded: 0, toErrorDestination: 0, refused: 0, putRecordsCalls: 0 };
  private readonly holdMs: number;
  private readonly retryPauseMs: number;

  constructor(private readonly options: RuleEngineOptions) {
    assertSupportedTemplate(options.door.partitionKey);
    this.holdMs = options.holdMs ?? 30_000;
    this.retryPauseMs = options.retryPauseMs ?? 200;
  }

  /** The rule's `FROM` clause: only matching messages are forwarded. */
  matches(topic: string): boolean {
    return matchesTopicFilter(this.options.door.topicFilter, topic);
  }

  get counters(): RuleEngineStats {
    return { ...this.stats };
  }

  /** Resolves once the message is durable (stream or error destination); rejects when neither took it. */
  forward(message: RuleMessage): Promise<ForwardResult> {
    if (this.closed) return Promise.reject(new ForwardRefusedError('the rule engine is stopping'));
    return new Promise<ForwardResult>((resolve, reject) => {
      this.queue.push({
        message,
        partitionKey: renderTemplate(this.options.door.partitionKey, message),
        data: message.payload,
        deadline: Date.now() + this.holdMs,
        lastError: '',
        resolve,
        reject,
      });
      this.running ??= this.drain().finally(() => {
        this.running = undefined;
      });
    });
  }

  /** Stops taking messages; those already taken finish (or are refused) first. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const retry = await this.writeBatch(batch);
      const { keep, expired } = this.partitionByDeadline(retry);
      await Promise.all(expired.map((p) => this.toErrorDestination(p)));
      if (keep.length > 0) {
        // The stream pushed back: pause, then retry those first, ahead of newer messages.
        await new Promise((r) => setTimeout(r, this.closed ? 0 : this.retryPauseMs));
        if (this.closed) for (const p of keep) this.refuse(p, 'the rule engine stopped while the stream refused');
        else this.queue = [...keep, ...this.queue];
      }
    }
  }

  /** One round of PutRecords (the writer retries failed entries itself); returns what still failed. */
  private async writeBatch(batch: Pending[]): Promise<Pending[]> {
    const result = await this.options.writer.write(batch);
    this.stats.putRecordsCalls += result.calls;
    const failed = new Set<Pending>();
    for (const f of result.failed) {
      f.record.lastError = `${f.errorCode}: ${f.errorMessage}`;
      failed.add(f.record);
    }
    for (const p of batch) {
      if (failed.has(p)) continue;
      this.stats.forwarded++;
      p.resolve('stream');
    }
    return batch.filter((p) => failed.has(p));
  }

  private partitionByDeadline(pending: Pending[]): { keep: Pending[]; expired: Pending[] } {
    const now = Date.now();
    return {
      keep: pending.filter((p) => p.deadline > now),
      expired: pending.filter((p) => p.deadline <= now),
    };
  }

  private async toErrorDestination(p: Pending): Promise<void> {
    const destination = this.options.errorDestination;
    if (!destination) return this.refuse(p, `stream refused it until the hold expired (${p.lastError})`);
    const body: RuleErrorMessage = {
      ruleName: this.options.door.ruleName,
      topic: p.message.topic,
      cloudwatchTraceId: randomUUID(),
      clientId: p.message.clientId,
      base64OriginalPayload: Buffer.from(p.data).toString('base64'),
      failures: [{ failedAction: 'KinesisAction', failedResource: this.options.streamName, errorMessage: p.lastError }],
    };
    try {
      await destination.send(JSON.stringify(body));
      this.stats.toErrorDestination++;
      this.options.log?.({
        level: 'WARN',
        message: 'forward failed; message sent to the error destination',
        clientId: p.message.clientId,
        topic: p.message.topic,
        cloudwatchTraceId: body.cloudwatchTraceId,
        error: p.lastError,
      });
      p.resolve('error-destination');
    } catch (error) {
      this.refuse(p, `stream and error destination both refused it (${p.lastError}; ${(error as Error).message})`);
    }
  }

  private refuse(p: Pending, reason: string): void {
    this.stats.refused++;
    this.options.log?.({
      level: 'WARN',
      message: 'forward refused; the device will resend',
      clientId: p.message.clientId,
      topic: p.message.topic,
      reason,
    });
    p.reject(new ForwardRefusedError(reason));
  }
}
