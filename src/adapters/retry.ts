/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"): retries of many clients spread out instead of arriving together.
 */
export interface BackoffOptions {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
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
