/**
 * The deliver/retry/bisect loop of the stream event sources. Lambda applies the same rules to a
 * Kinesis shard and a Kafka partition, so one driver carries out kinesis-policy.ts's decisions
 * for both, over a small {@link BatchSource}: where a record stands (its identifier in a partial
 * batch response, its arrival time), how a batch is invoked, what acknowledging records means
 * (a shard's checkpoint, a partition's commit after the batch) and what the on-failure notice
 * says. The guarantees live here once:
 * - a failed batch is retried after a back-off until `retryAttempts` is used up, or bisected on a
 *   function error (`bisectBatchOnError`), halves inheriting the attempts so far;
 * - records given up on (retries exhausted, too old) are acknowledged only after their notice is
 *   durable in the on-failure queue, so a record is never dropped unrecorded;
 * - a function that did not start is retried with the whole batch, neither split nor charged;
 * - stopping: records being retried or reported are not acknowledged ({@link Stopped}); they are
 *   delivered again after a restart.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { exponentialDelayMs, sleep } from '#adapters/retry.js';
import type { FailedInvocation, FailureCondition } from './events.js';
import { batchOutcome, decide, expiredPrefix, type KinesisPolicy } from './kinesis-policy.js';
import type { InvocationOutcome } from './protocol.js';

/** The host stopped before these records were done: they stay unacknowledged. */
export class Stopped extends Error {}

/**
 * Counters every stream source keeps; the host sums them per kind for its status. A type, not an
 * interface, so it stays assignable to `EventSource`'s record of counters.
 */
export type DeliveryStats = {
  received: number;
  acknowledged: number;
  invocations: number;
  failedInvocations: number;
  noticesSent: number;
  recordsGivenUp: number;
};

export function deliveryStats(): DeliveryStats {
  return { received: 0, acknowledged: 0, invocations: 0, failedInvocations: 0, noticesSent: 0, recordsGivenUp: 0 };
}

/** What the driver needs from one stream (a Kinesis shard, a Kafka partition's fetched batch). */
export interface BatchSource<R> {
  /** Prefix of the log lines: `kinesis`, `kafka`. */
  readonly kind: string;
  readonly policy: KinesisPolicy;
  readonly stats: DeliveryStats;
  readonly functionArn: string;
  readonly onFailure: { readonly sqs: SQSClient; readonly queueUrl: string };
  /** Delay before retry `attempt` (1-based). */
  readonly retryDelayMs: (attempt: number) => number;
  readonly log: (message: string) => void;
  stopping(): boolean;
  /** The record's identifier in a partial batch response (`batchItemFailures`). */
  itemIdentifier(record: R): string;
  /** When the record entered the stream, for `maxRecordAgeSeconds`. */
  arrivalMs(record: R): number;
  invoke(records: readonly R[]): Promise<InvocationOutcome>;
  /** These records are done (processed, or given up on after a durable notice). */
  acknowledge(records: readonly R[]): void;
  /** The on-failure record naming these records' range. */
  failureNotice(records: readonly R[], failure: FailedInvocation<FailureCondition>): unknown;
  /** Where these records are, for the log line ("of shardId-000", "from topic-0-41"). */
  where(records: readonly R[]): string;
}

/** Delays between sends of an on-failure notice: it must become durable before the ack. */
const NOTICE_RETRY = { baseMs: 200, maxMs: 5_000 } as const;

/**
 * Delivers `records` (consecutive records of one shard lane or partition) until each is
 * acknowledged or given up on; throws {@link Stopped} when the host stops first. `attempts`
 * counts the failed invocations of these records so far. What to do after each invocation is
 * kinesis-policy.ts's decision; this function only carries it out.
 */
export async function deliver<R>(source: BatchSource<R>, records: readonly R[], attempts = 0): Promise<void> {
  const { policy, stats } = source;
  let current = records;
  let tries = attempts;
  let invokeCount = attempts;
  let last: InvocationOutcome | undefined;
  let notStarted = 0;
  while (current.length > 0) {
    if (source.stopping() && (tries > 0 || notStarted > 0)) throw new Stopped();
    const expired = expiredPrefix(
      current.map((r) => ({ approximateArrivalMs: source.arrivalMs(r) })),
      policy,
      Date.now(),
    );
    if (expired > 0) {
      await giveUp(source, current.slice(0, expired), 'RecordAgeExceeded', invokeCount, last);
      current = current.slice(expired);
      continue;
    }
    last = await source.invoke(current);
    stats.invocations++;
    invokeCount++;
    const outcome = batchOutcome(
      last,
      current.map((r) => source.itemIdentifier(r)),
      policy,
    );
    const decision = decide(outcome, current.length, tries, policy);
    if (decision.action === 'done') {
      acknowledge(source, current);
      return;
    }
    stats.failedInvocations++;
    if (decision.action === 'wait') {
      await sleep(source.retryDelayMs(++notStarted));
      continue;
    }
    // Stopping: what failed is not acknowledged and comes again after a restart. Going on
    // (a bisect runs up to 2n-1 invocations) would hold the stop for as long.
    if (source.stopping()) {
      acknowledge(source, current.slice(0, decision.action === 'bisect' ? 0 : decision.acknowledge));
      throw new Stopped();
    }
    if (decision.action === 'bisect') {
      await deliver(source, current.slice(0, decision.at), decision.attempts);
      await deliver(source, current.slice(decision.at), decision.attempts);
      return;
    }
    acknowledge(source, current.slice(0, decision.acknowledge));
    current = current.slice(decision.acknowledge);
    tries = decision.attempts;
    if (decision.action === 'give-up') {
      await giveUp(source, current, decision.condition, invokeCount, last);
      return;
    }
    await sleep(source.retryDelayMs(tries));
  }
}

function acknowledge<R>(source: BatchSource<R>, records: readonly R[]): void {
  if (records.length === 0) return;
  source.stats.acknowledged += records.length;
  source.acknowledge(records);
}

/** On-failure notice first, acknowledgement after: a record is never dropped unrecorded. */
async function giveUp<R>(
  source: BatchSource<R>,
  records: readonly R[],
  condition: FailureCondition,
  invokeCount: number,
  last: InvocationOutcome | undefined,
): Promise<void> {
  const notice = source.failureNotice(records, {
    condition,
    functionArn: source.functionArn,
    requestId: last?.requestId ?? randomUUID(),
    invokeCount,
    functionError: last && !last.ok ? last.functionError : '',
  });
  await sendUntilDurable(source, notice);
  source.stats.noticesSent++;
  source.stats.recordsGivenUp += records.length;
  source.log(
    `${source.kind}: gave up on ${records.length} record(s) ${source.where(records)} (${condition}); notice sent`,
  );
  acknowledge(source, records);
}

/** Sends the notice until the queue has it; only a stop ends the retries (the records then stay unacknowledged). */
async function sendUntilDurable<R>(source: BatchSource<R>, notice: unknown): Promise<void> {
  const { sqs, queueUrl } = source.onFailure;
  for (let attempt = 1; ; attempt++) {
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(notice) }));
      return;
    } catch (error) {
      if (source.stopping()) throw new Stopped();
      source.log(`${source.kind}: on-failure queue unavailable (${(error as Error).message}); retrying`);
      await sleep(exponentialDelayMs(attempt, NOTICE_RETRY));
    }
  }
}
