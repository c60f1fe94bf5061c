/**
 * The handler skeleton every Lambda shares: what it logs, flushes and hands back for retry.
 * Real Powertools Logger and Metrics; their output is read from stdout and stderr, where
 * Lambda's log agent reads it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { batchHandler, instrumentedHandler } from '#observability/handler.js';

let lines: string[];

beforeEach(() => {
  lines = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(...(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')).split('\n'));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture); // error lines go to stderr
});
afterEach(() => vi.restoreAllMocks());

function json(): Record<string, unknown>[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}
const emf = () => json().filter((l) => '_aws' in l);
const logs = () => json().filter((l) => !('_aws' in l));

const context = { awsRequestId: 'req-1' };
const event = { ids: ['a', 'b', 'c'] };
type Event = typeof event;

function aBatchHandler(run: (e: Event) => Promise<readonly string[]>) {
  return batchHandler('test-batch', {
    correlationId: (e: Event) => e.ids[0],
    itemIds: (e) => e.ids,
    retriedMetric: 'ItemsRetried',
    run,
  });
}

describe('batchHandler', () => {
  it('hands back the items the use case could not land, and counts them as retried', async () => {
    const handler = aBatchHandler(async () => ['b']);
    expect(await handler(event, context)).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ ItemsRetried: 1, service: 'test-batch' });
  });

  it('when the use case throws: every item is retried, and counted, through the same path', async () => {
    const handler = aBatchHandler(async () => {
      throw new Error('database unreachable');
    });
    const response = await handler(event, context);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['a', 'b', 'c']);
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ ItemsRetried: 3 });
    const error = logs().find((l) => l.level === 'ERROR');
    expect(error).toMatchObject({ message: 'batch failed; every item will be retried', correlation_id: 'a' });
    expect(JSON.stringify(error)).toContain('database unreachable');
  });

  it('counts zero retried when everything landed, so the metric is always present', async () => {
    const handler = aBatchHandler(async () => []);
    expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
    expect(emf()[0]).toMatchObject({ ItemsRetried: 0 });
  });
});

describe('instrumentedHandler', () => {
  it('tags every line of an invocation with its correlation id, and only that invocation', async () => {
    const handler = instrumentedHandler('test-plain', {
      correlationId: (e: { id?: string }) => e.id,
      run: async (e, { logger, count, correlate }) => {
        logger.info('first');
        if (e.id === 'late') correlate('decided-later');
        logger.info('second');
        count({ Things: 2 });
        return 'done';
      },
    });
    expect(await handler({ id: 'evt-1' }, context)).toBe('done');
    await handler({}, { awsRequestId: 'req-2' });
    await handler({ id: 'late' }, context);
    const tagged = logs().map((l) => [l.message, l.correlation_id, l.request_id]);
    expect(tagged).toEqual([
      ['first', 'evt-1', 'req-1'],
      ['second', 'evt-1', 'req-1'],
      ['first', 'req-2', 'req-2'],
      ['second', 'req-2', 'req-2'],
      ['first', 'late', 'req-1'],
      ['second', 'decided-later', 'req-1'],
    ]);
    expect(emf().map((m) => m.Things)).toEqual([2, 2, 2]);
  });

  it('flushes the metrics gathered before a failure, and lets the failure reach the caller', async () => {
    const handler = instrumentedHandler('test-plain', {
      run: async (_e: unknown, { count }) => {
        count({ Started: 1 });
        throw new Error('scan could not run');
      },
    });
    await expect(handler({}, context)).rejects.toThrow('scan could not run');
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ Started: 1 });
    await expect(handler({}, context)).rejects.toThrow();
    expect(emf()).toHaveLength(2); // nothing left over from the first invocation
    expect(emf()[1]).toMatchObject({ Started: 1 });
  });
});
