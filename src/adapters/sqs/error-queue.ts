/**
 * The errors queue (SQS) implementation of the {@link ErrorQueue} port.
 *
 * Rejections are packed many per message (src/domain/error-message.ts), and messages into
 * `SendMessageBatch` calls of at most 10 entries and 256 KiB; given piece by piece (`open`),
 * each message leaves as soon as it is full. A call can succeed while some
 * entries fail (throttling, a transient internal error): only those entries are sent again,
 * with backoff; the rejections of entries that still fail are returned as unsent.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { packByCountAndBytes } from '#adapters/batching.js';
import { type BackoffOptions, retryFailedEntries } from '#adapters/retry.js';
import { type ErrorMessage, ErrorMessagePacker, packErrorMessages } from '#domain/error-message.js';
import type { ErrorQueue, ErrorSend } from '#domain/ports.js';
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
    return settle(this.dispatch(packErrorMessages(errors)));
  }

  /**
   * Each message leaves as soon as it is full (one entry per call, so it goes while the caller
   * still classifies); what is left at `end` goes then, packed into as few calls as fit.
   */
  open(): ErrorSend {
    const packer = new ErrorMessagePacker();
    const sent: Promise<readonly ErrorRecord[]>[] = [];
    let ended = false;
    return {
      add: (errors) => {
        if (ended) throw new Error('rejections added after the send ended');
        for (const error of errors) {
          const full = packer.add(error);
          if (full) sent.push(...this.dispatch([full]));
        }
      },
      end: () => {
        ended = true;
        const last = packer.flush();
        if (last) sent.push(...this.dispatch([last]));
        return settle(sent);
      },
    };
  }

  /** The messages in calls of at most 10 entries and 256 KiB, each retried; each call resolves with its records still unsent. */
  private dispatch(messages: readonly ErrorMessage[]): Promise<readonly ErrorRecord[]>[] {
    const calls = packByCountAndBytes(messages, (m) => m.body.length, {
      maxItems: MAX_BATCH_ENTRIES,
      maxBytes: MAX_BATCH_BYTES,
    });
    return calls.map(async (batch) => {
      const { failed } = await retryFailedEntries(batch, (pending) => this.sendBatch(pending), this.backoff);
      return failed.flatMap((m) => m.records);
    });
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

/** Waits for every call (none rejects: a thrown call counts as all its entries failed). */
async function settle(calls: readonly Promise<readonly ErrorRecord[]>[]): Promise<{ unsent: readonly ErrorRecord[] }> {
  return { unsent: (await Promise.all(calls)).flat() };
}
