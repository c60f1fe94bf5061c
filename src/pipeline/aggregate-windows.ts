/**
 * The aggregator's use case: recompute marked windows in bounded chunks (each one short
 * transaction) until none is left or the invocation's time is nearly up; what is left stays
 * marked for the next run, so a backlog drains over several runs instead of timing out.
 */
import type { AggregationStore } from '#domain/ports.js';

export interface AggregationSummary {
  readonly windowsRecomputed: number;
  readonly readingsCovered: number;
  readonly chunks: number;
  /** True when windows were left for the next run because time ran short. */
  readonly backlogLeft: boolean;
}

export interface AggregateOptions {
  readonly chunkSize: number;
  /** Milliseconds the invocation has left; chunks stop when it drops below `reserveMs`. */
  readonly remainingMs: () => number;
  readonly reserveMs: number;
}

export async function aggregateMarkedWindows(
  store: AggregationStore,
  options: AggregateOptions,
): Promise<AggregationSummary> {
  let windowsRecomputed = 0;
  let readingsCovered = 0;
  let chunks = 0;
  for (;;) {
    if (options.remainingMs() < options.reserveMs) {
      return { windowsRecomputed, readingsCovered, chunks, backlogLeft: true };
    }
    const result = await store.recomputeMarkedWindows(options.chunkSize);
    chunks += 1;
    windowsRecomputed += result.windows;
    readingsCovered += result.readings;
    if (result.claimed < options.chunkSize) {
      return { windowsRecomputed, readingsCovered, chunks, backlogLeft: false };
    }
  }
}
