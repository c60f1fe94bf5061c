/**
 * The errors queue (SQS) implementation of the {@link ErrorQueue} port.
 *
 * Rejections are packed many per message (src/domain/error-message.ts), and messages into
 * `SendMessageBatch` calls of at most 10 entries and 256 KiB. A call can succeed while some
 * entries fail (throttling, a transient internal error): only those entries are sent again,
 * with backoff; the rejections of entries that still fail are returned as unsent.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { packByCountAndBytes } from '#adapters/batching.js';
import { type BackoffOptions, retryFailedEntries } from '#adapters/retry.js';
import { type ErrorMessage, packErrorMessages } from '#domain/error-message.js';
import type { ErrorQueue } from '#domain/ports.js';
import type { ErrorRecord } from '#domain/reading.js';

export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = 256 * 1024;

export class SqsErrorQueue implements ErrorQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly backoff: BackoffOptions = { attempts: 4, baseMs: 50, maxMs: 1_000 },
  ) {}

  async send(errors: readonly ErrorRecord[]): Promise<{ unsent: readonly ErrorRecord[] }> {
    const calls = packByCountAndBytes(packErrorMessages(errors), (m) => m.body.length, {
      maxItems: MAX_BATCH_ENTRIES,
      maxBytes: MAX_BATCH_BYTES,
    });
    const results = await Promise.all(
      calls.map((batch) => retryFailedEntries(batch, (pending) => this.sendBatch(pending), this.backoff)),
    );
    return { unsent: results.flatMap((r) => r.failed.flatMap((m) => m.records)) };
  }

  /** One SendMessageBatch call; resolves with the messages that failed. */
  private async sendBatch(batch: readonly ErrorMessage[]): Promise<readonly ErrorMessage[]> {
    const out = await this.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: batch.map((message, i) => ({ Id: String(i), MessageBody: message.body })),
      }),
    );
    return (out.Failed ?? []).map((f) => batch[Number(f.Id)]).filter((m): m is ErrorMessage => m !== undefined);
  }
}
