/**
 * The validator's streamed write against real PostgreSQL and a real SQS emulator: the rows of
 * a batch go into one COPY chunk by chunk while the next chunk is classified, and every
 * guarantee of the one-shot write still holds when the COPY fails in the middle of the stream
 * (a redelivered range, content the database refuses, a connection lost).
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { copyText, PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { SqsErrorQueue } from '#adapters/sqs/error-queue.js';
import { decodeErrorMessage } from '#domain/error-message.js';
import { DEFAULT_PAYLOAD_CAP_BYTES, type ReadingRow } from '#domain/reading.js';
import type { PositionedRecord } from '#domain/stream.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { CHUNK_RECORDS, validateBatch } from '#pipeline/validate-batch.js';
import { createTestDatabase } from '../support/database.js';
import { type RunningSqs, startSqs } from '../support/emulators.js';
import { aPosition, aReading, encode } from '../support/factories.js';

let sqs: RunningSqs;
let queueUrl: string;
let db: pg.Pool;

beforeAll(async () => {
  sqs = await startSqs();
  queueUrl = await sqs.createQueue('iot-sensor-errors-streamed');
  db = new pg.Pool({ connectionString: await createTestDatabase('validator_streamed'), max: 4 });
});

afterAll(async () => {
  await db?.end();
  await sqs?.stop();
});

beforeEach(async () => {
  await db.query('TRUNCATE sensor_readings, sensor_errors, sensor_aggregations, aggregation_dirty_windows');
  await drainRejections();
});

/** Every rejection now in the errors queue (many per message), deleted as read. */
async function drainRejections(): Promise<ReturnType<typeof decodeErrorMessage>> {
  const all: ReturnType<typeof decodeErrorMessage>[number][] = [];
  for (;;) {
    const out = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return all;
    for (const m of messages) all.push(...decodeErrorMessage(JSON.parse(m.Body ?? 'null')));
    await sqs.client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

async function count(sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql)).rows[0]?.n);
}

/** `n` valid readings of distinct sensors, consecutive stream positions. */
function validRecords(n: number, overrides: (i: number) => Record<string, unknown> = () => ({})): PositionedRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    data: encode(aReading({ sensor_id: `stream-${i}`, ...overrides(i) })),
    position: aPosition(),
  }));
}

const deps = () => ({
  store: new PostgresPipelineStore(db),
  errorQueue: new SqsErrorQueue(sqs.client, queueUrl),
  payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES,
});

function rowsOf(records: readonly PositionedRecord[]): ReadingRow[] {
  return classifyBatch(records, { payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES, now: new Date() }).rows;
}

/**
 * Waits until the server has consumed the COPY text of `rows` (bytes_processed: tuples are
 * counted only when the server flushes its multi-insert buffer); returns its backend pid.
 */
async function copyProgress(rows: readonly ReadingRow[], timeoutMs = 30_000): Promise<number> {
  const bytes = Buffer.byteLength(copyText(rows));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows: found } = await db.query<{ pid: number; n: string }>(
      "SELECT pid, bytes_processed AS n FROM pg_stat_progress_copy WHERE relid = 'sensor_readings'::regclass",
    );
    const copy = found[0];
    if (copy && Number(copy.n) >= bytes) return copy.pid;
    if (Date.now() > deadline) throw new Error(`the COPY never took ${bytes} bytes (saw ${copy?.n ?? 'no COPY'})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('streamed COPY', () => {
  it('sends rows to the server before the write ends: the database works on the first chunk while the next is prepared', async () => {
    const rows = rowsOf(validRecords(300));
    const write = new PostgresPipelineStore(db).openReadings();
    write.write(rows.slice(0, 150));
    try {
      // Not committed yet, but the server has already received and read the first chunk.
      await copyProgress(rows.slice(0, 150));
      expect(await count('SELECT count(*) AS n FROM sensor_readings')).toBe(0);
      write.write(rows.slice(150));
    } finally {
      // Even on a failed expectation: an open COPY would hold its lock into the next test.
      await expect(write.end()).resolves.toEqual({ inserted: 300, duplicates: 0, refused: [] });
    }
    expect(await count('SELECT count(*) AS n FROM sensor_readings')).toBe(300);
  });

  it('a redelivered range in a later chunk: the COPY fails mid-stream, every row lands once, all acknowledged', async () => {
    const records = validRecords(CHUNK_RECORDS * 4 + 50);
    const again = records.slice(CHUNK_RECORDS * 2 + 10, CHUNK_RECORDS * 2 + 70);
    expect((await validateBatch(again, deps())).stored).toBe(60);

    const outcome = await validateBatch(records, deps());
    expect(outcome.failedSequenceNumbers).toEqual([]);
    expect(outcome).toMatchObject({ received: records.length, stored: records.length - 60, duplicates: 60 });
    expect(await count('SELECT count(DISTINCT sequence_number) AS n FROM sensor_readings')).toBe(records.length);
    expect(await count('SELECT count(*) AS n FROM sensor_readings')).toBe(records.length);
  });

  it('content the database refuses in a later chunk goes to the DLQ with the reason; its neighbours are stored', async () => {
    await db.query(`ALTER TABLE sensor_readings ADD CONSTRAINT test_streamed_evil CHECK (model <> 'evil')`);
    try {
      const evilAt = CHUNK_RECORDS * 3 + 20;
      const records = validRecords(CHUNK_RECORDS * 4, (i) => (i === evilAt ? { model: 'evil' } : {}));
      records.push({ data: encode('{"broken'), position: aPosition() });
      const outcome = await validateBatch(records, deps());
      expect(outcome.failedSequenceNumbers).toEqual([]);
      expect(outcome.stored).toBe(CHUNK_RECORDS * 4 - 1);
      const rejections = await drainRejections();
      expect(rejections.map((r) => r.position.sequenceNumber).sort()).toEqual(
        [records[evilAt]?.position.sequenceNumber, records.at(-1)?.position.sequenceNumber].sort(),
      );
      const refused = rejections.find((r) => r.position.sequenceNumber === records[evilAt]?.position.sequenceNumber);
      expect(refused?.errorMessage).toMatch(/refused by the database.*test_streamed_evil/);
    } finally {
      await db.query('ALTER TABLE sensor_readings DROP CONSTRAINT test_streamed_evil');
    }
  });

  it('a connection lost in the middle of the stream fails the write, commits nothing, and later writes are not disturbed', async () => {
    const rows = rowsOf(validRecords(400));
    const write = new PostgresPipelineStore(db).openReadings();
    write.write(rows.slice(0, 100));
    const pid = await copyProgress(rows.slice(0, 100));
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    // Rows written after the loss must neither throw nor reach the dead connection.
    write.write(rows.slice(100, 200));
    await new Promise((resolve) => setTimeout(resolve, 50));
    write.write(rows.slice(200));
    await expect(write.end()).rejects.toThrow();
    expect(await count('SELECT count(*) AS n FROM sensor_readings')).toBe(0);
    // The same rows again, on a fresh connection: all of them, once.
    expect(await new PostgresPipelineStore(db).insertReadings(rows)).toMatchObject({ inserted: 400, duplicates: 0 });
  });
});
