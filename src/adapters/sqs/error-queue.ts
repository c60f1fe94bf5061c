/**
 * The errors queue (SQS) implementation of the {@link ErrorQueue} port.
 *
 * `SendMessageBatch` takes at most 10 entries and 256 KiB in all, so entries are packed by
 * count and size. A batch call can succeed while some entries fail (throttling, a transient
 * internal error): only those entries are sent again, with backoff.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeErrorMessage } from '../../domain/error-message.js';
import type { ErrorQueue } from '../../domain/ports.js';
import type { ErrorRecord } from '../../domain/reading.js';
import { packByCountAndBytes } from '../batching.js';
import { retryFailedEntries, type BackoffOptions } from '../retry.js';

export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = 256 * 1024;

interface Entry {
  readonly record: ErrorRecord;
  readonly body: string;
}

/** Packs entries into SendMessageBatch-sized groups (bodies are ASCII, so length = bytes). */
export function packBatches<T extends { readonly body: string }>(entries: readonly T[]): T[][] {
  return packByCountAndBytes(entries, (e) => e.body.length, { maxItems: MAX_BATCH_ENTRIES, maxBytes: MAX_BATCH_BYTES });
}

export class SqsErrorQueue implements ErrorQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly backoff: BackoffOptions = { attempts: 4, baseMs: 50, maxMs: 1_000 },
  ) {}

  async send(errors: readonly ErrorRecord[]): Promise<{ unsent: readonly ErrorRecord[] }> {
    const entries: Entry[] = errors.map((record) => ({ record, body: encodeErrorMessage(record) }));
    const results = await Promise.all(
      packBatches(entries).map((batch) => retryFailedEntries(batch, (pending) => this.sendBatch(pending), this.backoff)),
    );
    return { unsent: results.flatMap((r) => r.failed.map((e) => e.record)) };
  }

  /** One SendMessageBatch call; resolves with the entries that failed. */
  private async sendBatch(batch: readonly Entry[]): Promise<readonly Entry[]> {
    const out = await this.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: batch.map((entry, i) => ({ Id: String(i), MessageBody: entry.body })),
      }),
    );
    return (out.Failed ?? []).map((f) => batch[Number(f.Id)]).filter((e): e is Entry => e !== undefined);
  }
}
