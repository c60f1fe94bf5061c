/**
 * Publishes the reading-alert events the aggregator's committed runs produced (issue 10): reads
 * the events not published yet, publishes them to the alert topic, then records them as
 * published. The record comes after the publish, so a run that crashes in between, or cannot
 * reach the topic, leaves the events for the next run: at least once, never lost. A repeat (the
 * crash case) carries the same key, which subscribers drop.
 *
 * Run after the windows' transaction has committed, and it never throws: a topic that is down
 * must not fail or undo the windows. Failures come back in the summary for the handler to log
 * and count.
 */
import type { AlertOutbox, AlertPublisher } from '#domain/ports.js';

export interface PublishAlertsOptions {
  /** Alerts read per round (each gives one or two events). */
  readonly pageSize?: number;
  /** Rounds per run at most; what is left waits for the next run. */
  readonly maxRounds?: number;
  /** Milliseconds the invocation has left; no round and no call to the topic starts below `reserveMs`. */
  readonly remainingMs?: () => number;
  readonly reserveMs?: number;
}

export interface AlertPublication {
  readonly published: number;
  /** Events that could not be published this run (still pending); 1 when the step failed before knowing. */
  readonly failures: number;
  /** True when events may be left for the next run (a failure, the round limit or the time). */
  readonly leftPending: boolean;
  /** What went wrong, one sentence each (error codes, never message bodies). */
  readonly problems: readonly string[];
}

const DEFAULTS = { pageSize: 100, maxRounds: 10, reserveMs: 0 };

export async function publishAlertEvents(
  outbox: AlertOutbox,
  publisher: AlertPublisher,
  options: PublishAlertsOptions = {},
): Promise<AlertPublication> {
  const { pageSize, maxRounds, reserveMs } = { ...DEFAULTS, ...options };
  const remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
  let published = 0;
  try {
    for (let round = 0; round < maxRounds; round++) {
      if (remainingMs() < reserveMs) return { published, failures: 0, leftPending: true, problems: [] };
      const events = await outbox.pending(pageSize);
      if (events.length === 0) return { published, failures: 0, leftPending: false, problems: [] };
      const { unpublished } = await publisher.publish(events, { stop: () => remainingMs() < reserveMs });
      const failedKeys = new Set(unpublished.map((u) => u.event.key));
      const sent = events.filter((e) => !failedKeys.has(e.key)).map((e) => e.key);
      await outbox.markPublished(sent);
      published += sent.length;
      if (unpublished.length > 0) {
        const codes = [...new Set(unpublished.map((u) => `${u.errorCode}: ${u.errorMessage}`))].slice(0, 3);
        return {
          published,
          failures: unpublished.length,
          leftPending: true,
          problems: [`${unpublished.length} alert event(s) not published, left for the next run (${codes.join('; ')})`],
        };
      }
    }
    return { published, failures: 0, leftPending: true, problems: [] };
  } catch (error) {
    // The outbox could not be read or marked (the database went away after the windows' commit).
    // Events already published but not marked go out again next run, under the same keys.
    const e = error as Error;
    return {
      published,
      failures: 1,
      leftPending: true,
      problems: [`alert events: ${e.name}: ${e.message}; what is not recorded as published goes out next run`],
    };
  }
}
