/**
 * The stream writer's retry logic, against a fake `send`.
 *
 * Why a fake here when the rest of the suite uses real parts: partial PutRecords failures
 * (ProvisionedThroughputExceededException, InternalFailure on some entries of an otherwise
 * successful call) come from AWS's shard throttling. kinesalite never throttles, and no local
 * part can produce such a response on demand, so the only way to prove that exactly the failed
 * entries are re-sent is to script the responses. The real round trip (chunking, bytes,
 * partition keys) is covered against kinesalite in test/integration/producer.test.ts.
 */
import type { PutRecordsCommand, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import {
  chunkForPutRecords,
  KinesisStreamWriter,
  MAX_BYTES_PER_CALL,
  MAX_RECORDS_PER_CALL,
  type PutRecordsSender,
} from '#adapters/kinesis/stream-writer.js';
import type { OutgoingRecord } from '#domain/ports.js';

const fast = { attempts: 4, baseMs: 1, maxMs: 2 };
const decoder = new TextDecoder();

function records(n: number, bytes = 10): OutgoingRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    partitionKey: `sensor-${i % 7}`,
    data: new TextEncoder().encode(`r${i}:`.padEnd(bytes, 'x')),
  }));
}

/** A fake Kinesis: `respond` decides per call and entry whether the entry fails. */
class FakeKinesis implements PutRecordsSender {
  readonly calls: string[][] = [];
  /** Every record id the "stream" accepted, in order, duplicates included. */
  readonly stored: string[] = [];
  private sequence = 0;

  constructor(private readonly respond: (call: number, id: string) => string | undefined | Error) {}

  async send(command: PutRecordsCommand): Promise<{ Records: PutRecordsResultEntry[] }> {
    const call = this.calls.length;
    const ids = (command.input.Records ?? []).map((r) => decoder.decode(r.Data).split(':')[0] ?? '');
    this.calls.push(ids);
    const entries: PutRecordsResultEntry[] = [];
    for (const id of ids) {
      const outcome = this.respond(call, id);
      if (outcome instanceof Error) throw outcome;
      if (outcome) {
        entries.push({ ErrorCode: outcome, ErrorMessage: `${outcome} for ${id}` });
      } else {
        this.stored.push(id);
        entries.push({ SequenceNumber: String(++this.sequence), ShardId: 'shardId-000000000000' });
      }
    }
    return { Records: entries };
  }
}

describe('chunkForPutRecords', () => {
  it('splits at 500 records', () => {
    const chunks = chunkForPutRecords(records(1_234));
    expect(chunks.map((c) => c.length)).toEqual([500, 500, 234]);
    expect(MAX_RECORDS_PER_CALL).toBe(500);
  });

  it('splits before 5 MiB of data and partition keys, keeping the order', () => {
    const big = records(30, 400 * 1024); // 12 fit under 5 MiB by data alone, 13 do not
    const chunks = chunkForPutRecords(big);
    for (const chunk of chunks) {
      const bytes = chunk.reduce((n, r) => n + r.data.length + Buffer.byteLength(r.partitionKey), 0);
      expect(bytes).toBeLessThanOrEqual(MAX_BYTES_PER_CALL);
    }
    expect(chunks.map((c) => c.length)).toEqual([12, 12, 6]);
    expect(chunks.flat()).toEqual(big);
  });
});

describe('KinesisStreamWriter retries', () => {
  it('re-sends only the entries that failed, so nothing lands twice', async () => {
    const throttled = new Set(['r3', 'r7', 'r8']);
    const kinesis = new FakeKinesis((call, id) =>
      call === 0 && throttled.has(id) ? 'ProvisionedThroughputExceededException' : undefined,
    );
    const result = await new KinesisStreamWriter(kinesis, 's', fast).write(records(10));

    expect(kinesis.calls).toHaveLength(2);
    expect(kinesis.calls[1]).toEqual(['r3', 'r7', 'r8']);
    expect(kinesis.stored).toHaveLength(10);
    expect(new Set(kinesis.stored).size).toBe(10);
    expect(result).toMatchObject({ sent: 10, failed: [], calls: 2 });
  });

  it('retries each chunk on its own: a failure in the second chunk never re-sends the first', async () => {
    const kinesis = new FakeKinesis((call, id) => (call === 1 && id === 'r600' ? 'InternalFailure' : undefined));
    const result = await new KinesisStreamWriter(kinesis, 's', fast).write(records(700));
    expect(kinesis.calls.map((c) => c.length)).toEqual([500, 200, 1]);
    expect(kinesis.calls[2]).toEqual(['r600']);
    expect(kinesis.stored).toHaveLength(700);
    expect(result.sent).toBe(700);
  });

  it('gives up after the configured attempts and reports which records failed and why', async () => {
    const kinesis = new FakeKinesis((_call, id) =>
      id === 'r1' ? 'ProvisionedThroughputExceededException' : undefined,
    );
    const input = records(3);
    const result = await new KinesisStreamWriter(kinesis, 's', fast).write(input);
    expect(kinesis.calls).toEqual([['r0', 'r1', 'r2'], ['r1'], ['r1'], ['r1']]);
    expect(result.sent).toBe(2);
    expect(result.failed).toEqual([
      {
        record: input[1],
        errorCode: 'ProvisionedThroughputExceededException',
        errorMessage: 'ProvisionedThroughputExceededException for r1',
      },
    ]);
  });

  it('treats a thrown call as every entry of the call failing, then retries them', async () => {
    const kinesis = new FakeKinesis((call) =>
      call === 0 ? Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }) : undefined,
    );
    const result = await new KinesisStreamWriter(kinesis, 's', fast).write(records(4));
    expect(kinesis.calls).toHaveLength(2);
    expect(kinesis.stored).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(result.sent).toBe(4);
  });

  it('names the thrown error when a call never succeeds', async () => {
    const missing = Object.assign(new Error('Stream s not found'), { name: 'ResourceNotFoundException' });
    const kinesis = new FakeKinesis(() => missing);
    const result = await new KinesisStreamWriter(kinesis, 's', fast).write(records(2));
    expect(result.sent).toBe(0);
    expect(result.failed.map((f) => [f.errorCode, f.errorMessage])).toEqual([
      ['ResourceNotFoundException', 'Stream s not found'],
      ['ResourceNotFoundException', 'Stream s not found'],
    ]);
  });

  it('never counts an entry without a sequence number as sent', async () => {
    const kinesis: PutRecordsSender = { send: async () => ({ Records: [{ SequenceNumber: '1' }] }) };
    const result = await new KinesisStreamWriter(kinesis, 's', { ...fast, attempts: 1 }).write(records(2));
    expect(result.sent).toBe(1);
    expect(result.failed[0]?.errorCode).toBe('MissingResultEntry');
  });
});
