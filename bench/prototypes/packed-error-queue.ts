/**
 * PROTOTYPE, measured by bench/ingest.ts; not used by the pipeline. An {@link ErrorQueue} that
 * packs many rejections into one SQS message instead of one message per rejection.
 *
 * Why: the ingest benchmark and its breakdown (bench/probes/ingest-breakdown.ts) show the
 * errors queue, not PostgreSQL, limiting the validator: with the producer's fault mix 37% of
 * records are rejected, i.e. ~185 messages and ~19 SendMessageBatch calls per 500-record
 * batch, each call paying SDK serialization, signing and HTTP. Packed, a batch's rejections
 * are one message (~130 KiB) and one call. The drainer would receive ~100 rejections per
 * message instead of one (and its invocations drop accordingly); it already lands them with
 * one idempotent multi-row insert, so a redelivered pack adds nothing.
 *
 * Format: `{"v":2,"errors":[<v1 body>, …]}` — the existing per-record bodies
 * (src/domain/error-message.ts, ASCII-only JSON) in an array, so the drainer change is to
 * accept v2 and decode each element as today.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeErrorMessage } from '../../src/domain/error-message.js';
import type { ErrorQueue } from '../../src/domain/ports.js';
import type { ErrorRecord } from '../../src/domain/reading.js';
import { retryFailedEntries, type BackoffOptions } from '../../src/adapters/retry.js';

/** Below SQS's 256 KiB per message and per SendMessageBatch call, with room for the envelope. */
export const PACK_LIMIT_BYTES = 240 * 1024;

interface Pack {
  readonly records: readonly ErrorRecord[];
  readonly body: string;
}

/** Packs encoded bodies (ASCII, so length = bytes) into envelopes of at most PACK_LIMIT_BYTES. */
export function pack(errors: readonly ErrorRecord[]): Pack[] {
  const packs: Pack[] = [];
  let records: ErrorRecord[] = [];
  let bodies: string[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (bodies.length === 0) return;
    packs.push({ records, body: `{"v":2,"errors":[${bodies.join(',')}]}` });
    records = [];
    bodies = [];
    bytes = 0;
  };
  for (const e of errors) {
    const body = encodeErrorMessage(e);
    if (bytes + body.length + 1 > PACK_LIMIT_BYTES) flush();
    records.push(e);
    bodies.push(body);
    bytes += body.length + 1;
  }
  flush();
  return packs;
}

export class PackedErrorQueue implements ErrorQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly backoff: BackoffOptions = { attempts: 4, baseMs: 50, maxMs: 1_000 },
  ) {}

  async send(errors: readonly ErrorRecord[]): Promise<{ unsent: readonly ErrorRecord[] }> {
    // One pack per call: two near-limit packs would exceed the per-call limit.
    const results = await Promise.all(
      pack(errors).map((p) => retryFailedEntries([p], (pending) => this.sendOne(pending), this.backoff)),
    );
    return { unsent: results.flatMap((r) => r.failed.flatMap((p) => p.records)) };
  }

  private async sendOne(packs: readonly Pack[]): Promise<readonly Pack[]> {
    const [p] = packs;
    if (!p) return [];
    const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: [{ Id: '0', MessageBody: p.body }] }));
    return (out.Failed ?? []).length > 0 ? [p] : [];
  }
}
