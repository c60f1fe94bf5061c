/**
 * The alert topic (SNS) implementation of the {@link AlertPublisher} port: one message per event,
 * sent in `PublishBatch` calls of at most 10 entries and 256 KiB, with the event's key and kind
 * as message attributes (src/domain/alert-event.ts) so a subscriber can drop a repeat or filter
 * without parsing the body. Entries a call reports as failed are sent again with backoff; a call
 * that still throws after its attempts (the topic unreachable, access denied) fails all its
 * entries and the calls after it are not made: a topic that is down costs one call's attempts
 * (2 × the client's 2 s connect + 5 s request timeouts at worst), not one per batch of ten, so
 * the aggregator ends its run, and counts the failures, well within its timeout.
 *
 * No MessageDeduplicationId: the topic is a standard topic, and must stay one. CloudWatch alarms
 * cannot publish to a FIFO topic and a FIFO topic has no e-mail subscriptions, and its
 * deduplication window (5 minutes) would not cover a repeat after a longer outage anyway. The
 * `key` attribute does that job for every subscriber, whenever the repeat comes.
 */
import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import { packByCountAndBytes } from '#adapters/batching.js';
import { type BackoffOptions, retryFailedEntries } from '#adapters/retry.js';
import { type AlertEvent, alertMessageAttributes, alertMessageBody, alertSubject } from '#domain/alert-event.js';
import type { AlertPublisher, UnpublishedAlert } from '#domain/ports.js';

export const MAX_PUBLISH_BATCH_ENTRIES = 10;
/** PublishBatch's limit on the whole request's messages and attributes. */
export const MAX_PUBLISH_BATCH_BYTES = 256 * 1024;

interface Outgoing {
  readonly event: AlertEvent;
  readonly entry: Omit<PublishBatchRequestEntry, 'Id'>;
  readonly bytes: number;
}

function outgoing(event: AlertEvent): Outgoing {
  const attributes = alertMessageAttributes(event);
  const entry = {
    Message: alertMessageBody(event),
    Subject: alertSubject(event),
    MessageAttributes: Object.fromEntries(
      Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
    ),
  };
  const bytes =
    Buffer.byteLength(entry.Message) +
    Object.entries(attributes).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 6, 0);
  return { event, entry, bytes };
}

export class SnsAlertPublisher implements AlertPublisher {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
    private readonly backoff: BackoffOptions = { attempts: 2, baseMs: 100, maxMs: 1_000 },
  ) {}

  async publish(
    events: readonly AlertEvent[],
    options: { readonly stop?: () => boolean } = {},
  ): Promise<{ unpublished: readonly UnpublishedAlert[] }> {
    const calls = packByCountAndBytes(events.map(outgoing), (o) => o.bytes, {
      maxItems: MAX_PUBLISH_BATCH_ENTRIES,
      maxBytes: MAX_PUBLISH_BATCH_BYTES,
    });
    const unpublished: UnpublishedAlert[] = [];
    /** Why the remaining calls are not made (a call threw after its attempts, or time is short). */
    let notSent: { errorCode: string; errorMessage: string } | undefined;
    for (const batch of calls) {
      if (!notSent && options.stop?.())
        notSent = { errorCode: 'NotSent', errorMessage: 'too little time left this run' };
      if (notSent) {
        for (const o of batch) unpublished.push({ event: o.event, ...notSent });
        continue;
      }
      const reasons = new Map<Outgoing, { errorCode: string; errorMessage: string }>();
      const { failed, lastError } = await retryFailedEntries(
        batch,
        (pending) => this.publishBatch(pending, reasons),
        this.backoff,
      );
      const thrown = lastError as Error | undefined;
      const callFailed = { errorCode: thrown?.name ?? 'Unknown', errorMessage: thrown?.message ?? 'not published' };
      for (const o of failed) unpublished.push({ event: o.event, ...(reasons.get(o) ?? callFailed) });
      // An entry without a reason of its own failed because the call itself kept throwing.
      if (failed.some((o) => !reasons.has(o))) notSent = callFailed;
    }
    return { unpublished };
  }

  /** One PublishBatch call; resolves with the entries that failed (their reasons kept in `reasons`). */
  private async publishBatch(
    batch: readonly Outgoing[],
    reasons: Map<Outgoing, { errorCode: string; errorMessage: string }>,
  ): Promise<readonly Outgoing[]> {
    const out = await this.sns.send(
      new PublishBatchCommand({
        TopicArn: this.topicArn,
        PublishBatchRequestEntries: batch.map((o, i) => ({ Id: String(i), ...o.entry })),
      }),
    );
    const failed: Outgoing[] = [];
    for (const f of out.Failed ?? []) {
      const o = batch[Number(f.Id)];
      if (!o) continue;
      reasons.set(o, { errorCode: f.Code ?? 'Unknown', errorMessage: f.Message ?? '' });
      failed.push(o);
    }
    return failed;
  }
}
