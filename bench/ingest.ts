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

import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { createSqsClient } from '#adapters/aws/clients.js';
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import { INSERT_ONE_READING, INSERT_READINGS } from '#adapters/postgres/pipeline-store.js';
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
  await client.query(INSERT_READINGS, batch.columns);
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

/** The parts one ingest run holds open: the subject's database and queue, and the baselines' clients. */
interface IngestParts {
  readonly subjectUrl: string;
  readonly sqs: Awaited<ReturnType<typeof startSqsEmulator>>;
  readonly sqsClient: SQSClient;
  readonly queueUrl: string;
  readonly copyClient: pg.Client;
  readonly unnestClient: pg.Client;
  readonly rowClient: pg.Client;
}

/** Time spent per path over the measured batches. */
interface Timings {
  readonly subjectMs: number[];
  copyMs: number;
  unnestMs: number;
  failures: number;
}

export async function benchIngest(server: BenchServer, options: IngestOptions): Promise<IngestResult> {
  const batchSize = options.batchSize ?? VALIDATOR_BATCH_SIZE;
  const parts = await openIngestParts(server);
  let worker: WorkerProcess | undefined;
  try {
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
    options.log(
      `ingest: generating ${options.records} records (+${options.warmupRecords} warm-up) with the producer's fault mix`,
    );
    worker = new WorkerProcess(
      { mode: 'ingest', batchSize, warmup: warmupSpec, measured: measuredSpec },
      { databaseUrl: parts.subjectUrl, errorsQueueUrl: parts.queueUrl, sqsEndpoint: parts.sqs.url },
      path.join(options.logDir, 'ingest-validator.log'),
      options.cpuProfileDir,
    );
    const ready = worker.next();
    const warmup = prepare(warmupSpec, batchSize).batches;
    const { batches: measured, expected } = prepare(measuredSpec, batchSize);
    const hello = await ready;
    if (hello.type !== 'ready' || hello.measuredBatches !== measured.length)
      throw new Error('validator worker did not start as expected');

    options.log(`ingest: warm-up, ${warmup.length} batches through every path`);
    await warmUpEveryPath(worker, warmup, parts);
    options.log(`ingest: ${measured.length} batches of ${batchSize}, handler and COPY alternating`);
    const timings = await measureAlternating(worker, measured, parts);
    const sample = measured.flatMap((b) => b.rows).slice(0, options.rowByRowSample);
    options.log(`ingest: row-by-row INSERT of a ${sample.length}-row sample`);
    const rowMs = await timeIt(async () => {
      for (const row of sample)
        await parts.rowClient.query({ name: 'bench_row', text: INSERT_ONE_READING, values: readingCells(row) });
    });
    const validRows = measured.reduce((n, b) => n + b.rows.length, 0);
    return {
      records: options.records,
      validRows,
      rejected: options.records - validRows,
      batches: measured.length,
      batchSize,
      faultMix: expected,
      ...rates(options.records, validRows, timings),
      rowByRow: { rows: sample.length, ms: round(rowMs), rowsPerSecond: round((sample.length / rowMs) * 1000) },
      check: await checkLanded(parts),
    };
  } finally {
    await worker?.stop();
    await closeIngestParts(parts);
  }
}

/** A database per path, so no path's writes slow another's, and the errors queue. */
async function openIngestParts(server: BenchServer): Promise<IngestParts> {
  const [subjectUrl, copyUrl, unnestUrl, rowUrl] = (await Promise.all(
    ['ingest_subject', 'ingest_copy', 'ingest_unnest', 'ingest_row'].map((label) => server.createDatabase(label)),
  )) as [string, string, string, string];
  const sqs = await startSqsEmulator({ port: 0, region: REGION });
  const sqsClient = createSqsClient({ region: REGION, endpoint: sqs.url });
  const [copyClient, unnestClient, rowClient] = [copyUrl, unnestUrl, rowUrl].map(
    (url) => new pg.Client({ connectionString: url }),
  ) as [pg.Client, pg.Client, pg.Client];
  const parts = { subjectUrl, sqs, sqsClient, queueUrl: '', copyClient, unnestClient, rowClient };
  try {
    const queue = await sqsClient.send(new CreateQueueCommand({ QueueName: topology.queues.errors.name }));
    await Promise.all([copyClient, unnestClient, rowClient].map((c) => c.connect()));
    return { ...parts, queueUrl: queue.QueueUrl ?? '' };
  } catch (error) {
    await closeIngestParts(parts);
    throw error;
  }
}

async function closeIngestParts(parts: IngestParts): Promise<void> {
  await Promise.all([parts.copyClient, parts.unnestClient, parts.rowClient].map((c) => c.end().catch(() => undefined)));
  parts.sqsClient.destroy();
  await parts.sqs.stop();
}

/** Every path once over the warm-up batches, and the row-by-row statement prepared. */
async function warmUpEveryPath(worker: WorkerProcess, warmup: readonly PreparedBatch[], parts: IngestParts) {
  for (const [i, batch] of warmup.entries()) {
    await runSubject(worker, 'warmup', i);
    await copyBatch(parts.copyClient, batch.copy);
    await unnestBatch(parts.unnestClient, batch);
  }
  await parts.rowClient.query({
    name: 'bench_row',
    text: INSERT_ONE_READING,
    values: readingCells(warmup[0]?.rows[0] as ReadingRow),
  });
}

/** The measured batches through the handler, COPY and unnest, the first two in alternating order. */
async function measureAlternating(
  worker: WorkerProcess,
  measured: readonly PreparedBatch[],
  parts: IngestParts,
): Promise<Timings> {
  const timings: Timings = { subjectMs: [], copyMs: 0, unnestMs: 0, failures: 0 };
  for (const [i, batch] of measured.entries()) {
    const subject = async (): Promise<void> => {
      const r = await runSubject(worker, 'measured', i);
      timings.subjectMs.push(r.ms);
      timings.failures += r.failures;
    };
    const copy = async (): Promise<void> => {
      timings.copyMs += await timeIt(() => copyBatch(parts.copyClient, batch.copy));
    };
    // Flip the order every batch so neither path always runs first (right after the unnest).
    if (i % 2 === 0) {
      await subject();
      await copy();
    } else {
      await copy();
      await subject();
    }
    timings.unnestMs += await timeIt(() => unnestBatch(parts.unnestClient, batch));
  }
  return timings;
}

/** The handler's rate and the baselines', and the ratio the report leads with. */
function rates(
  records: number,
  validRows: number,
  t: Timings,
): Pick<IngestResult, 'subject' | 'copyBaseline' | 'unnestBaseline' | 'ratio'> {
  const totalSubjectMs = t.subjectMs.reduce((a, b) => a + b, 0);
  const sorted = [...t.subjectMs].sort((a, b) => a - b);
  const pick = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return {
    subject: {
      ms: round(totalSubjectMs),
      recordsPerSecond: round((records / totalSubjectMs) * 1000),
      validRowsPerSecond: round((validRows / totalSubjectMs) * 1000),
      batchMsP50: round(pick(50)),
      batchMsP99: round(pick(99)),
      itemFailures: t.failures,
    },
    copyBaseline: {
      ms: round(t.copyMs),
      rowsPerSecond: round((validRows / t.copyMs) * 1000),
      recordsPerSecondEquivalent: round((records / t.copyMs) * 1000),
    },
    unnestBaseline: { ms: round(t.unnestMs), rowsPerSecond: round((validRows / t.unnestMs) * 1000) },
    ratio: round(t.copyMs / totalSubjectMs),
  };
}

/** What landed where, warm-up included: every record must be a row or a queued rejection. */
async function checkLanded(parts: IngestParts): Promise<IngestResult['check']> {
  const subjectClient = new pg.Client({ connectionString: parts.subjectUrl });
  await subjectClient.connect();
  const subjectRows = await countRows(subjectClient).finally(() => subjectClient.end());
  const copyRows = await countRows(parts.copyClient);
  const queued = await countQueuedRejections(parts.sqsClient, parts.queueUrl);
  return { subjectRows, copyRows, queuedErrors: queued.rejections, queuedMessages: queued.messages };
}
