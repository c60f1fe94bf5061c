/**
 * The repository's one retry vocabulary: an exponential delay (capped), the same with full
 * jitter (AWS Architecture Blog, "Exponential Backoff and Jitter", so retries of many clients
 * spread out instead of arriving together), one `sleep`, and a batch re-sender built on them.
 * Every retry loop (adapters, the local Lambda host, the benchmarks) takes its delays from here.
 */
export interface ExponentialDelay {
  /** Delay of attempt 0; each later attempt doubles it. */
  readonly baseMs: number;
  /** Ceiling of the delay. */
  readonly maxMs: number;
}

export interface BackoffOptions extends ExponentialDelay {
  readonly attempts: number;
}

/** `baseMs * 2^attempt`, capped at `maxMs` (attempt 0 waits `baseMs`). */
export function exponentialDelayMs(attempt: number, delay: ExponentialDelay): number {
  return Math.min(delay.maxMs, delay.baseMs * 2 ** Math.max(0, attempt));
}

/** A uniformly random delay below the exponential one (full jitter). */
export function backoffDelayMs(attempt: number, options: ExponentialDelay, random: () => number = Math.random): number {
  return Math.floor(random() * exponentialDelayMs(attempt, options));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `items`, then re-sends only those `send` reports as failed, up to `attempts` times in
 * all. Resolves with the items that still failed. A thrown error counts as all items failing.
 */
export async function retryFailedEntries<T>(
  items: readonly T[],
  send: (items: readonly T[]) => Promise<readonly T[]>,
  options: BackoffOptions,
): Promise<{ failed: readonly T[]; lastError?: unknown }> {
  let pending = items;
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(backoffDelayMs(attempt, options));
    try {
      pending = await send(pending);
    } catch (error) {
      lastError = error;
    }
  }
  return { failed: pending, lastError };
}
