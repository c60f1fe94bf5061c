/**
 * The embedded SQS's write-ahead journal (runtime/embedded/sqs-journal.ts), on real files:
 * which messages a restart re-sends (published and neither consumed nor moved), redrives kept
 * in one line, a line cut short by a crash ignored, compaction at start and while running.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJournal, SqsJournal, type SqsQueueEvent } from '#runtime/embedded/sqs-journal.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'iot-first-journal-'));
  file = path.join(dir, 'sqs-journal.ndjson');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const published = (
  queueName: string,
  messageId: string,
  body = `body of ${messageId}`,
  messageAttributes = {},
): SqsQueueEvent => ({
  service: 'sqs',
  queueName,
  messageId,
  body,
  messageAttributes,
  status: 'published',
});
const consumed = (queueName: string, messageId: string): SqsQueueEvent => ({
  service: 'sqs',
  queueName,
  messageId,
  status: 'consumed',
});
const movedToDlq = (queueName: string, messageId: string): SqsQueueEvent => ({
  service: 'sqs',
  queueName,
  messageId,
  status: 'dlq',
});
const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const ids = (j: SqsJournal): string[] => j.outstanding().map((m) => `${m.queue}/${m.id}`);

describe('SQS journal', () => {
  it('keeps published messages until consumed, across a reopen, with body and attributes', () => {
    const j = SqsJournal.open({ file, fsync: false });
    j.record(published('errors', 'a', '{"x":1}', { kind: { DataType: 'String', StringValue: 'rejection' } }));
    j.record(published('errors', 'b'));
    j.record(published('failures', 'c'));
    j.record(consumed('errors', 'b'));
    // Other services' events (SNS, S3) and unknown statuses are not queue contents.
    j.record({ service: 'sns', status: 'published', messageId: 'n' } as SqsQueueEvent);
    expect(ids(j)).toEqual(['errors/a', 'failures/c']);
    j.close();

    const again = SqsJournal.open({ file, fsync: false });
    expect(again.recovered).toEqual({ outstanding: 2, skipped: 0 });
    expect(again.outstanding()).toEqual([
      {
        queue: 'errors',
        id: 'a',
        body: '{"x":1}',
        attributes: { kind: { DataType: 'String', StringValue: 'rejection' } },
      },
      { queue: 'failures', id: 'c', body: 'body of c' },
    ]);
    // Compacted at open: one line per outstanding message.
    expect(lines()).toHaveLength(2);
    again.close();
  });

  it('a consumed message is consumed in its own queue only', () => {
    const j = SqsJournal.open({ file, fsync: false });
    j.record(published('errors', 'same-id'));
    j.record(consumed('failures', 'same-id'));
    expect(ids(j)).toEqual(['errors/same-id']);
    j.close();
  });

  it('a redrive moves the message to the DLQ in one line', () => {
    const j = SqsJournal.open({ file, fsync: false });
    j.record(published('errors', 'm'));
    const before = lines().length;
    j.record(movedToDlq('errors', 'm'));
    j.record(published('errors-dlq', 'm'));
    expect(lines().length).toBe(before + 1);
    expect(JSON.parse(lines().at(-1) ?? '')).toMatchObject({ op: 'put', q: 'errors-dlq', id: 'm', from: 'errors' });
    expect(ids(j)).toEqual(['errors-dlq/m']);
    j.close();
    expect(ids(SqsJournal.open({ file, fsync: false }))).toEqual(['errors-dlq/m']);
  });

  it('ignores a last line cut short by a crash (the message it named was never acknowledged)', () => {
    const j = SqsJournal.open({ file, fsync: false });
    j.record(published('errors', 'kept'));
    j.record(published('errors', 'gone'));
    j.record(consumed('errors', 'gone'));
    j.close();
    appendFileSync(file, '{"op":"put","q":"errors","id":"half","body":"tru');

    const again = SqsJournal.open({ file, fsync: false });
    expect(again.recovered).toEqual({ outstanding: 1, skipped: 1 });
    expect(ids(again)).toEqual(['errors/kept']);
    // The broken line is gone after the start's compaction, so later appends stay readable.
    again.record(published('errors', 'next'));
    again.close();
    expect(readJournal(readFileSync(file, 'utf8'))).toMatchObject({ skipped: 0 });
    expect(ids(SqsJournal.open({ file, fsync: false }))).toEqual(['errors/kept', 'errors/next']);
  });

  it('retires a re-sent message once its new copy is recorded', () => {
    const j = SqsJournal.open({ file, fsync: false });
    j.record(published('errors', 'old'));
    const [old] = j.outstanding();
    j.record(published('errors', 'new', old?.body));
    if (old) j.replaced(old);
    expect(ids(j)).toEqual(['errors/new']);
    j.close();
    expect(ids(SqsJournal.open({ file, fsync: false }))).toEqual(['errors/new']);
  });

  it('compacts while running once past its size limit, keeping exactly the outstanding set', () => {
    const j = SqsJournal.open({ file, fsync: false, compactAtBytes: 10_000 });
    const body = 'x'.repeat(200);
    for (let i = 0; i < 500; i++) {
      j.record(published('errors', `m${i}`, body));
      if (i % 10 !== 0) j.record(consumed('errors', `m${i}`));
    }
    expect(j.stats.compactions).toBeGreaterThan(1);
    expect(statSync(file).size).toBeLessThan(20_000);
    const expected = Array.from({ length: 50 }, (_, k) => `errors/m${k * 10}`);
    expect(ids(j)).toEqual(expected);
    j.close();
    expect(ids(SqsJournal.open({ file, fsync: false }))).toEqual(expected);
  });

  it('does not compact on every event when the outstanding set itself is larger than the limit', () => {
    const j = SqsJournal.open({ file, fsync: false, compactAtBytes: 1_000 });
    for (let i = 0; i < 300; i++) j.record(published('errors-dlq', `d${i}`, 'y'.repeat(100)));
    // Threshold doubles with the compacted size: a handful of compactions, not one per event.
    expect(j.stats.compactions).toBeLessThan(12);
    expect(j.outstanding()).toHaveLength(300);
    j.close();
  });

  it('fsyncs once per request (microtask), not once per message', async () => {
    const j = SqsJournal.open({ file });
    for (let i = 0; i < 10; i++) j.record(published('errors', `b${i}`));
    expect(j.stats.fsyncs).toBe(0);
    await Promise.resolve();
    expect(j.stats.fsyncs).toBe(1);
    j.record(consumed('errors', 'b0'));
    await Promise.resolve();
    expect(j.stats.fsyncs).toBe(1);
    j.close();
  });
});
