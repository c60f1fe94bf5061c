/**
 * The Kinesis event source's decisions over every case AWS documents for a Kinesis event
 * source mapping (Lambda developer guide, "Using Lambda with Kinesis": batching, error
 * handling, partial batch responses, parallelization factor). Pure functions: no stream, no
 * clock, no function; the I/O around them is covered by runtime-kinesis-source.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type BatchDecision,
  type BatchOutcome,
  batchOutcome,
  decide,
  defaultRetryDelayMs,
  expiredPrefix,
  type KinesisPolicy,
  laneFor,
} from '#runtime/host/kinesis-policy.js';
import type { InvocationOutcome } from '#runtime/host/protocol.js';

const policy = (p: Partial<KinesisPolicy> = {}): KinesisPolicy => ({
  retryAttempts: 2,
  maxRecordAgeSeconds: -1,
  bisectBatchOnError: false,
  reportBatchItemFailures: true,
  ...p,
});
const ok = (payload: unknown): InvocationOutcome => ({ ok: true, payload, requestId: 'r', durationMs: 1 });
const failed: InvocationOutcome = {
  ok: false,
  error: { errorType: 'Error', errorMessage: 'boom' },
  functionError: 'Unhandled',
  requestId: 'r',
  durationMs: 1,
};
const SEQ = ['10', '11', '12', '13'];

describe('batchOutcome: how Lambda reads an invocation', () => {
  it('a function error fails the whole batch', () => {
    expect(batchOutcome(failed, SEQ, policy())).toEqual({ kind: 'error' });
  });
  it('without ReportBatchItemFailures any answer is success, even one naming failures', () => {
    const payload = { batchItemFailures: [{ itemIdentifier: '12' }] };
    expect(batchOutcome(ok(payload), SEQ, policy({ reportBatchItemFailures: false }))).toEqual({ kind: 'success' });
  });
  it('with it, the lowest failed sequence number is where the retry starts', () => {
    const payload = { batchItemFailures: [{ itemIdentifier: '13' }, { itemIdentifier: '11' }] };
    expect(batchOutcome(ok(payload), SEQ, policy())).toEqual({ kind: 'partial', firstFailed: 1 });
  });
  it('an empty or absent list is success; an unknown or empty identifier fails the whole batch', () => {
    expect(batchOutcome(ok({ batchItemFailures: [] }), SEQ, policy())).toEqual({ kind: 'success' });
    expect(batchOutcome(ok(null), SEQ, policy())).toEqual({ kind: 'success' });
    expect(batchOutcome(ok({ batchItemFailures: [{ itemIdentifier: '99' }] }), SEQ, policy())).toEqual({
      kind: 'error',
    });
    expect(batchOutcome(ok({ batchItemFailures: [{ itemIdentifier: '' }] }), SEQ, policy())).toEqual({
      kind: 'error',
    });
  });
});

describe('decide: what to checkpoint, retry, bisect or give up on', () => {
  it('success checkpoints the whole batch', () => {
    expect(decide({ kind: 'success' }, 4, 0, policy())).toEqual({ action: 'done', acknowledge: 4 });
  });

  it('partial failure checkpoints the records before the first failed one and retries the rest', () => {
    expect(decide({ kind: 'partial', firstFailed: 2 }, 4, 0, policy())).toEqual({
      action: 'retry',
      acknowledge: 2,
      attempts: 1,
    });
  });

  it('a partial failure is not bisected even with bisect on: the response already says where', () => {
    expect(decide({ kind: 'partial', firstFailed: 0 }, 4, 0, policy({ bisectBatchOnError: true }))).toEqual({
      action: 'retry',
      acknowledge: 0,
      attempts: 1,
    });
  });

  it('bisect on error splits a failed batch in two without using up an attempt', () => {
    expect(decide({ kind: 'error' }, 5, 1, policy({ bisectBatchOnError: true }))).toEqual({
      action: 'bisect',
      at: 3,
      attempts: 1,
    });
  });

  it('a single failed record cannot be split: it is retried', () => {
    expect(decide({ kind: 'error' }, 1, 0, policy({ bisectBatchOnError: true }))).toEqual({
      action: 'retry',
      acknowledge: 0,
      attempts: 1,
    });
  });

  it('without bisect a failed batch is retried whole', () => {
    expect(decide({ kind: 'error' }, 4, 0, policy())).toEqual({ action: 'retry', acknowledge: 0, attempts: 1 });
  });

  it('retries exhausted: after retryAttempts retries the rest is given up on (notice, then checkpoint)', () => {
    expect(decide({ kind: 'error' }, 4, 1, policy({ retryAttempts: 2 }))).toEqual({
      action: 'retry',
      acknowledge: 0,
      attempts: 2,
    });
    expect(decide({ kind: 'error' }, 4, 2, policy({ retryAttempts: 2 }))).toEqual({
      action: 'give-up',
      acknowledge: 0,
      attempts: 3,
      condition: 'RetryAttemptsExhausted',
    });
    expect(decide({ kind: 'partial', firstFailed: 3 }, 4, 0, policy({ retryAttempts: 0 }))).toEqual({
      action: 'give-up',
      acknowledge: 3,
      attempts: 1,
      condition: 'RetryAttemptsExhausted',
    });
  });

  it('retryAttempts -1 retries until the records expire', () => {
    expect(decide({ kind: 'error' }, 4, 10_000, policy({ retryAttempts: -1 }))).toEqual({
      action: 'retry',
      acknowledge: 0,
      attempts: 10_001,
    });
  });
});

describe('expiredPrefix: maximum record age', () => {
  const now = 1_000_000;
  const arrivals = (...agesS: number[]) => agesS.map((s) => ({ approximateArrivalMs: now - s * 1000 }));

  it('gives up on the leading records older than maxRecordAgeSeconds', () => {
    expect(expiredPrefix(arrivals(120, 90, 30, 10), { maxRecordAgeSeconds: 60 }, now)).toBe(2);
    expect(expiredPrefix(arrivals(30, 10), { maxRecordAgeSeconds: 60 }, now)).toBe(0);
    expect(expiredPrefix(arrivals(61), { maxRecordAgeSeconds: 60 }, now)).toBe(1);
  });
  it('-1 means no limit', () => {
    expect(expiredPrefix(arrivals(1e6), { maxRecordAgeSeconds: -1 }, now)).toBe(0);
  });
});

describe('parallelization factor: lanes by partition key', () => {
  it('keeps each key in one lane, in arrival order, and uses every lane', () => {
    const records = Array.from({ length: 400 }, (_, i) => ({ key: `sensor-${i % 40}`, n: i }));
    const lanes: (typeof records)[] = [[], [], [], [], [], [], [], [], [], []];
    for (const r of records) lanes[laneFor(r.key, 10)]?.push(r);
    const laneOfKey = new Map<string, number>();
    lanes.forEach((lane, i) => {
      for (const r of lane) {
        expect(laneOfKey.get(r.key) ?? i).toBe(i);
        laneOfKey.set(r.key, i);
      }
      for (const key of new Set(lane.map((r) => r.key))) {
        const ns = lane.filter((r) => r.key === key).map((r) => r.n);
        expect(ns).toEqual([...ns].sort((a, b) => a - b));
      }
    });
    expect(lanes.filter((l) => l.length > 0).length).toBe(10);
  });
});

describe('the decisions composed, as the event source applies them', () => {
  /** Drives a batch through `decide` against a function that fails on poison records. */
  function deliver(records: readonly number[], poison: ReadonlySet<number>, p: KinesisPolicy) {
    const done: number[] = [];
    const givenUp: number[] = [];
    let invocations = 0;
    const run = (batch: readonly number[], attempts: number): void => {
      let current = batch;
      let tries = attempts;
      while (current.length > 0) {
        invocations++;
        const bad = current.findIndex((r) => poison.has(r));
        const outcome: BatchOutcome = bad < 0 ? { kind: 'success' } : { kind: 'error' };
        const d: BatchDecision = decide(outcome, current.length, tries, p);
        if (d.action === 'done') return void done.push(...current);
        if (d.action === 'bisect') {
          run(current.slice(0, d.at), d.attempts);
          run(current.slice(d.at), d.attempts);
          return;
        }
        done.push(...current.slice(0, d.acknowledge));
        current = current.slice(d.acknowledge);
        tries = d.attempts;
        if (d.action === 'give-up') return void givenUp.push(...current);
      }
    };
    run(records, 0);
    return { done, givenUp, invocations };
  }

  it('bisect isolates one poison record even with no retries, and keeps the order of the rest', () => {
    const out = deliver([1, 2, 3, 4, 5, 6, 7, 8], new Set([6]), policy({ retryAttempts: 0, bisectBatchOnError: true }));
    expect(out.givenUp).toEqual([6]);
    expect(out.done).toEqual([1, 2, 3, 4, 5, 7, 8]);
  });

  it('without bisect the whole batch is given up with the poison record', () => {
    const out = deliver([1, 2, 3, 4], new Set([2]), policy({ retryAttempts: 1 }));
    expect(out.givenUp).toEqual([1, 2, 3, 4]);
    expect(out.invocations).toBe(2); // first try and one retry
  });
});

describe('defaultRetryDelayMs', () => {
  it('doubles from 100 ms and stops at 5 s', () => {
    expect([1, 2, 3, 4].map(defaultRetryDelayMs)).toEqual([100, 200, 400, 800]);
    expect(defaultRetryDelayMs(30)).toBe(5_000);
  });
});
