/**
 * Ingest benchmark: the real validator handler against real PostgreSQL and the real errors
 * queue (fauxqs), against a raw `COPY` of the same valid rows, batch for batch, side by side.
 *
 * Fairness:
 * - Subject and baselines write into clones of one migrated template on one server: the same
 *   indexes and the same statement trigger (mark_dirty_windows) fire for all of them.
 * - Batches alternate: subject batch i, then COPY batch i (order flipped every batch), so both
 *   tables grow together and machine noise hits both alike.
 * - The COPY baseline gets its text prepared before the clock starts: it is the floor the
 *   handler could reach if decoding, validation, encoding and the queue cost nothing. It
 *   copies batch i's valid rows in one statement, as the handler does, so per-statement costs
 *   (the trigger, the commit) are in both.
 * - A warm-up set (other records, other stream positions) goes through all paths untimed first.
 *
 * Batch size: the topology's validator batch size unless `batchSize` says otherwise, because
 * the batch is the unit of every per-batch cost (one COPY statement, one trigger firing, one
 * commit, the SendMessageBatch calls), so how the ratio moves with it tells which costs are
 * per batch and which are per record. The COPY baseline is always cut at the same size.
 *
 * Also measured: the handler's own redelivery path (`INSERT … SELECT FROM unnest … ON CONFLICT
 * DO NOTHING`) on the same batches, and row-by-row autocommitted INSERTs on a sample, to show
 * the scale of the difference.
 */

import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { createSqsClient } from '#adapters/aws/clients.js';
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import { decodeErrorMessage } from '#domain/error-message.js';
import type { ReadingRow } from '#domain/reading.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { startSqsEmulator } from '#runtime/embedded/emulators.js';
import { topology } from '#topology.js';
import type { BenchServer } from './common.js';
import { round } from './common.js';
import {
  type Cell,
  columns,
  copyText,
  kinesisEvents,
  READING_COLUMNS,
  REGION,
  type RecordSetSpec,
  readingCells,
  recordSet,
  VALIDATOR_BATCH_SIZE,
} from './records.js';
import { WorkerProcess } from './worker-process.js';

export interface IngestOptions {
  readonly records: number;
  readonly warmupRecords: number;
  readonly rowByRowSample: number;
  readonly sensors: number;
  readonly logDir: string;
  /** Records per Kinesis event (and per baseline COPY); the topology's validator batch size when absent. */
  readonly batchSize?: number | undefined;
  /** Write a CPU profile of the validator worker into this folder. */
  readonly cpuProfileDir?: string | undefined;
  readonly log: (line: string) => void;
}

export interface IngestResult {
  readonly records: number;
  readonly validRows: number;
  readonly rejected: number;
  readonly batches: number;
  readonly batchSize: number;
  readonly faultMix: Readonly<Record<string, number>>;
  readonly subject: {
    readonly ms: number;
    readonly recordsPerSecond: number;
    readonly validRowsPerSecond: number;
    readonly batchMsP50: number;
    readonly batchMsP99: number;
    readonly itemFailures: number;
  };
  readonly copyBaseline: {
    readonly ms: number;
    readonly rowsPerSecond: number;
    readonly recordsPerSecondEquivalent: number;
  };
  readonly unnestBaseline: { readonly ms: number; readonly rowsPerSecond: number };
  readonly rowByRow: { readonly rows: number; readonly ms: number; readonly rowsPerSecond: number };
  /** COPY time ÷ handler time over the same batches (= handler rate ÷ COPY rate). */
  readonly ratio: number;
  /** Rows and queued rejections after the run, warm-up included: every record must be in one of them. */
  readonly check: {
    readonly subjectRows: number;
    readonly copyRows: number;
    /** Rejections decoded from the errors queue (many per message since the v2 format). */
    readonly queuedErrors: number;
    /** SQS messages they came in. */
    readonly queuedMessages: number;
  };
}

const READING_ARRAY_TYPES = [
  'uuid',
  'text',
  'text',
  'float8',
  'text',
  'text',
  'text',
  'float8',
  'float8',
  'text',
  'timestamptz',
  'float8',
  'bool',
  'bool',
  'timestamptz',
  'text',
  'text',
  'text',
  'text',
  'timestamptz',
] as const;
const UNNEST_INSERT = `INSERT INTO sensor_readings (${READING_COLUMNS.join(', ')}) SELECT * FROM unnest(${READING_ARRAY_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) ON CONFLICT DO NOTHING`;
const SINGLE_INSERT = `INSERT INTO sensor_readings (${READING_COLUMNS.join(', ')}) VALUES (${READING_ARRAY_TYPES.map((t, i) => `$${i + 1}::${t}`).join(', ')})`;
const COPY = `COPY sensor_readings (${READING_COLUMNS.join(', ')}) FROM STDIN`;

export interface PreparedBatch {
  readonly rows: readonly ReadingRow[];
  readonly copy: string;
  readonly columns: Cell[][];
}

/** What the baselines need for each batch, derived from the same records the handler gets. */
export function prepare(
  spec: RecordSetSpec,
  batchSize: number,
): { batches: PreparedBatch[]; expected: Record<string, number> } {
  const set = recordSet(spec);
  const events = kinesisEvents(set, spec, batchSize);
  const batches = events.map((event) => {
    const { rows } = classifyBatch(event.Records.map(toPositionedRecord), {
      payloadCapBytes: topology.payloadCapBytes,
      now: new Date(),
    });
    return { rows, copy: copyText(rows), columns: columns(rows.map(readingCells), READING_COLUMNS.length) };
  });
  return { batches, expected: set.expected };
}

/** One raw COPY of a batch's prepared text. */
export async function copyBatch(client: pg.Client, text: string): Promise<void> {
  if (text.length === 0) return;
  await pipeline(Readable.from([text]), client.query(copyStreams.from(COPY)));
}

async function unnestBatch(client: pg.Client, batch: PreparedBatch): Promise<void> {
  if (batch.rows.length === 0) return;
  await client.query(UNNEST_INSERT, batch.columns);
}

async function timeIt(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function runSubject(
  worker: WorkerProcess,
  set: 'warmup' | 'measured',
  index: number,
): Promise<{ ms: number; failures: number }> {
  const reply = await worker.request({ type: 'run', set, index });
  if (reply.type !== 'done') throw new Error(`unexpected worker reply ${reply.type}`);
  return { ms: reply.ms, failures: reply.failures };
}

/**
 * Drains the errors queue and counts the rejections in it. Messages are decoded with the
 * drainer's own decoder, because since the v2 format one message carries many rejections:
 * the queue's message count no longer says whether every rejected record was queued once.
 */
async function countQueuedRejections(
  sqs: SQSClient,
  queueUrl: string,
): Promise<{ messages: number; rejections: number }> {
  let messages = 0;
  let rejections = 0;
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 600,
        WaitTimeSeconds: 0,
      }),
    );
    const received = out.Messages ?? [];
    if (received.length === 0) return { messages, rejections };
    messages += received.length;
    for (const m of received) rejections += decodeErrorMessage(JSON.parse(m.Body ?? 'null')).length;
  }
}

async function countRows(client: pg.Client): Promise<number> {
  return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM sensor_readings')).rows[0]?.n ?? 0);
}

export async function benchIngest(server: BenchServer, options: IngestOptions): Promise<IngestResult> {
  const { log } = options;
  const batchSize = options.batchSize ?? VALIDATOR_BATCH_SIZE;
  const [subjectUrl, copyUrl, unnestUrl, rowUrl] = await Promise.all(
    ['ingest_subject', 'ingest_copy', 'ingest_unnest', 'ingest_row'].map((label) => server.createDatabase(label)),
  );
  const sqs = await startSqsEmulator({ port: 0, region: REGION });
  const sqsClient = createSqsClient({ region: REGION, endpoint: sqs.url });
  const clients = [copyUrl, unnestUrl, rowUrl].map((url) => new pg.Client({ connectionString: url }));
  let worker: WorkerProcess | undefined;
  try {
    const queueUrl =
      (await sqsClient.send(new CreateQueueCommand({ QueueName: topology.queues.errors.name }))).QueueUrl ?? '';
    await Promise.all(clients.map((c) => c.connect()));
    const [copyClient, unnestClient, rowClient] = clients as [pg.Client, pg.Client, pg.Client];

    const warmupSpec: RecordSetSpec = {
      count: options.warmupRecords,
      seed: 11,
      sensors: options.sensors,
      positionOffset: 0,
    };
    const measuredSpec: RecordSetSpec = {
      count: options.records,
      seed: 12,
      sensors: options.sensors,
      positionOffset: 100_000_000,
    };
    log(
      `ingest: generating ${options.records} records (+${options.warmupRecords} warm-up) with the producer's fault mix`,
    );
    worker = new WorkerProcess(
      { mode: 'ingest', batchSize, warmup: warmupSpec, measured: measuredSpec },
      { databaseUrl: subjectUrl as string, errorsQueueUrl: queueUrl, sqsEndpoint: sqs.url },
      path.join(options.logDir, 'ingest-validator.log'),
      options.cpuProfileDir,
    );
    const ready = worker.next();
    const warmup = prepare(warmupSpec, batchSize).batches;
    const { batches: measured, expected } = prepare(measuredSpec, batchSize);
    const hello = await ready;
    if (hello.type !== 'ready' || hello.measuredBatches !== measured.length)
      throw new Error('validator worker did not start as expected');

    log(`ingest: warm-up, ${warmup.length} batches through every path`);
    for (const [i, batch] of warmup.entries()) {
      await runSubject(worker, 'warmup', i);
      await copyBatch(copyClient, batch.copy);
      await unnestBatch(unnestClient, batch);
    }
    await rowClient.query({
      name: 'bench_row',
      text: SINGLE_INSERT,
      values: readingCells(warmup[0]?.rows[0] as ReadingRow),
    });

    log(`ingest: ${measured.length} batches of ${batchSize}, handler and COPY alternating`);
    const subjectMs: number[] = [];
    let copyMs = 0;
    let unnestMs = 0;
    let failures = 0;
    for (const [i, batch] of measured.entries()) {
      const subject = async (): Promise<void> => {
        const r = await runSubject(worker as WorkerProcess, 'measured', i);
        subjectMs.push(r.ms);
        failures += r.failures;
      };
      const copy = async (): Promise<void> => {
        copyMs += await timeIt(() => copyBatch(copyClient, batch.copy));
      };
      // Flip the order every batch so neither path always runs first (right after the unnest).
      if (i % 2 === 0) {
        await subject();
        await copy();
      } else {
        await copy();
        await subject();
      }
      unnestMs += await timeIt(() => unnestBatch(unnestClient, batch));
    }

    const sample = measured.flatMap((b) => b.rows).slice(0, options.rowByRowSample);
    log(`ingest: row-by-row INSERT of a ${sample.length}-row sample`);
    const rowMs = await timeIt(async () => {
      for (const row of sample)
        await rowClient.query({ name: 'bench_row', text: SINGLE_INSERT, values: readingCells(row) });
    });

    const totalSubjectMs = subjectMs.reduce((a, b) => a + b, 0);
    const validRows = measured.reduce((n, b) => n + b.rows.length, 0);
    const subjectClient = new pg.Client({ connectionString: subjectUrl });
    await subjectClient.connect();
    const subjectRows = await countRows(subjectClient).finally(() => subjectClient.end());
    const copyRows = await countRows(copyClient);
    const queued = await countQueuedRejections(sqsClient, queueUrl);
    const sorted = [...subjectMs].sort((a, b) => a - b);
    const pick = (p: number): number =>
      sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
    return {
      records: options.records,
      validRows,
      rejected: options.records - validRows,
      batches: measured.length,
      batchSize,
      faultMix: expected,
      subject: {
        ms: round(totalSubjectMs),
        recordsPerSecond: round((options.records / totalSubjectMs) * 1000),
        validRowsPerSecond: round((validRows / totalSubjectMs) * 1000),
        batchMsP50: round(pick(50)),
        batchMsP99: round(pick(99)),
        itemFailures: failures,
      },
      copyBaseline: {
        ms: round(copyMs),
        rowsPerSecond: round((validRows / copyMs) * 1000),
        recordsPerSecondEquivalent: round((options.records / copyMs) * 1000),
      },
      unnestBaseline: { ms: round(unnestMs), rowsPerSecond: round((validRows / unnestMs) * 1000) },
      rowByRow: { rows: sample.length, ms: round(rowMs), rowsPerSecond: round((sample.length / rowMs) * 1000) },
      ratio: round(copyMs / totalSubjectMs),
      check: { subjectRows, copyRows, queuedErrors: queued.rejections, queuedMessages: queued.messages },
    };
  } finally {
    await worker?.stop();
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    sqsClient.destroy();
    await sqs.stop();
  }
}

/** Where logs of child processes go when the caller gives no folder. */
export function defaultLogDir(): string {
  return path.join(os.tmpdir(), 'iot-first-bench-logs');
}
