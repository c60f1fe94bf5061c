/**
 * kinesis-policy.ts's decision for a function that could not start: the batch never reached the
 * handler, so it is neither split nor charged a retry attempt (runtime-init-retry.test.ts shows
 * the same against real containers).
 */
import { describe, expect, it } from 'vitest';
import { batchOutcome, decide, type KinesisPolicy } from '#runtime/host/kinesis-policy.js';

const policy: KinesisPolicy = {
  retryAttempts: 2,
  maxRecordAgeSeconds: -1,
  bisectBatchOnError: true,
  reportBatchItemFailures: true,
};
const failed = (initError: boolean) =>
  ({
    ok: false,
    error: { errorType: 'Runtime.InitTimeout', errorMessage: 'init did not finish' },
    functionError: 'Unhandled',
    requestId: 'r',
    durationMs: 1,
    ...(initError ? { initError: true } : {}),
  }) as const;

describe('kinesis policy: a function that did not start', () => {
  it('reads an init failure as not-started and any other failure as an error', () => {
    expect(batchOutcome(failed(true), ['1', '2'], policy)).toEqual({ kind: 'not-started' });
    expect(batchOutcome(failed(false), ['1', '2'], policy)).toEqual({ kind: 'error' });
  });

  it('waits and retries the whole batch, attempts unchanged, even past the retry limit', () => {
    expect(decide({ kind: 'not-started' }, 10, 0, policy)).toEqual({ action: 'wait', acknowledge: 0, attempts: 0 });
    expect(decide({ kind: 'not-started' }, 10, 2, policy)).toEqual({ action: 'wait', acknowledge: 0, attempts: 2 });
    // The same batch failing in its handler is split, as before.
    expect(decide({ kind: 'error' }, 10, 0, policy)).toEqual({ action: 'bisect', at: 5, attempts: 0 });
  });
});
