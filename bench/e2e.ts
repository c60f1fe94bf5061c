/**
 * End-to-end benchmark through the embedded stack (runtime/stack.ts: kinesalite, fauxqs, the
 * local Lambda host with the real validator and DLQ drainer, on a database of this run's
 * PostgreSQL), as `npm start` runs it.
 *
 * - Fixed load: the producer's records put at `rate` readings/s (a PutRecords every 100 ms);
 *   latency from the moment a PutRecords call is issued to the moment its row is visible to
 *   a reader of sensor_readings.
 * - Saturation: `saturationRecords` put as fast as the emulator takes them; throughput is
 *   records ÷ (first put → last valid row visible).
 * - Baseline, same run and same emulator: its drain rate, raw GetRecords (Limit 10,000) over
 *   every shard in parallel from TRIM_HORIZON, with the host idle.
 *
 * Visibility is sampled: every `sampleEvery`-th valid reading's id is polled by primary key
 * every 50 ms (a full poll of every id would itself load the 2-core machine); a row's time is
 * the start of the first poll that sees it, so latencies are upper bounds with up to one poll
 * interval of error. Schedules (the once-a-minute aggregator) are off so runs are repeatable.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import pg from 'pg';
import { exponentialDelayMs } from '#adapters/retry.js';
import type { SimulatedRecord } from '#domain/fleet.js';
import type { RunningStack } from '#runtime/stack.js';
import { topology } from '#topology.js';
import { type BenchServer, percentile, round, sleep, startBenchStack } from './common.js';
import { copyBatch, prepare } from './ingest.js';
import { type RecordSet, type RecordSetSpec, recordSet } from './records.js';

export interface E2eOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly saturationRecords: number;
  readonly warmupRecords: number;
  readonly sensors: number;
  readonly logDir: string;
  readonly log: (line: string) => void;
  /** Write V8 CPU profiles of every function container here (NODE_OPTIONS=--cpu-prof). */
  readonly cpuProfileDir?: string | undefined;
  /** Longest wait for the pipeline to catch up after the last put. */
  readonly settleTimeoutMs?: number;
}

export interface Latency {
  readonly samples: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface PhaseResult {
  readonly records: number;
  readonly validRows: number;
  /** Records ÷ seconds from the first put to the last row visible. */
  readonly throughputPerSecond: number;
  /** Records ÷ seconds from the first put to the last put. */
  readonly putPerSecond: number;
  readonly latencyMs: Latency;
  /** Seconds until every rejection had also landed in sensor_errors (through SQS and the drainer); null if not within the wait. */
  readonly allLandedSeconds: number | null;
  readonly caughtUp: boolean;
}

export interface E2eResult {
  readonly shards: number;
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly parallelizationFactor: number;
  readonly fixedLoad: PhaseResult & { readonly offeredPerSecond: number; readonly p99TargetMs: number };
  readonly saturation: PhaseResult;
  readonly drain: { readonly records: number; readonly recordsPerSecond: number; readonly runs: readonly number[] };
  /**
   * The rate if PostgreSQL had the machine to itself: raw COPY of the saturation set's valid
   * rows, cut in validator-size batches, into a fresh clone of the schema, host idle. In
   * records/s (the set's records ÷ COPY time), to compare with the drain rate.
   */
  readonly copy: { readonly rows: number; readonly ms: number; readonly recordsPerSecondEquivalent: number };
  /** Which of the two limits is lower, so binds: the stream's drain rate or PostgreSQL's COPY rate. */
  readonly binds: 'drain' | 'copy';
  /** Saturation throughput ÷ drain rate. */
  readonly ratio: number;
  /** Saturation throughput ÷ the binding limit (the lower of drain and COPY). */
  readonly ratioToLimit: number;
  readonly hostStats: unknown;
}

const POLL_MS = 50;

/**
 * Node 20 refuses `--cpu-prof` in NODE_OPTIONS and the host fixes the containers' execArgv, so
 * profiling goes through a preload (allowed in NODE_OPTIONS) that drives the inspector's
 * profiler and writes `<pid>.cpuprofile` at exit. Plain JavaScript, written next to the
 * profiles: NODE_OPTIONS preloads run before the containers' own tsx loader.
 */
function profilerPreload(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'profiler-preload.mjs');
  writeFileSync(
    file,
    `import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? (process.argv[1] ?? 'node').split('/').pop().replace(/\\.[cm]?[jt]s$/, '');
    if (!error) writeFileSync(${JSON.stringify(dir)} + '/' + name + '-' + process.pid + '.cpuprofile', JSON.stringify(result.profile));
  });
});
`,
  );
  return file;
}
const PUT_CHUNK = 500;

export class VisibilityProbe {
  private readonly pending = new Map<string, number>();
  readonly latencies: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly db: pg.Pool) {
    this.loop = this.run();
  }

  watch(readingId: string, putAt: number): void {
    this.pending.set(readingId, putAt);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const ids = [...this.pending.keys()];
      const started = performance.now();
      if (ids.length > 0) {
        const found = await this.db.query<{ id: string }>(
          'SELECT reading_id::text AS id FROM sensor_readings WHERE reading_id = ANY($1::uuid[])',
          [ids],
        );
        for (const { id } of found.rows) {
          const putAt = this.pending.get(id);
          if (putAt === undefined) continue;
          this.latencies.push(started - putAt);
          this.pending.delete(id);
        }
      }
      await sleep(Math.max(0, POLL_MS - (performance.now() - started)));
    }
  }

  /** Waits until every watched reading was seen (or the time is up): a row count reached by
   * another query says nothing about whether this probe's last poll came after it. */
  async seenAll(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) await sleep(POLL_MS);
    return this.pending.size === 0;
  }

  /** Latencies collected since the last call. */
  take(): Latency {
    const sorted = this.latencies.splice(0).sort((a, b) => a - b);
    this.pending.clear();
    return {
      samples: sorted.length,
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1] ?? Number.NaN),
    };
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** Puts records, re-sending only entries the emulator refused; returns when all are accepted. */
async function put(kinesis: KinesisClient, streamName: string, records: readonly SimulatedRecord[]): Promise<void> {
  let pending = records;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 10) throw new Error(`PutRecords: ${pending.length} records still refused`);
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
      }),
    );
    const results = out.Records ?? [];
    pending = pending.filter((_, i) => results[i]?.ErrorCode !== undefined);
    if (pending.length > 0) await sleep(exponentialDelayMs(attempt, { baseMs: 50, maxMs: Number.POSITIVE_INFINITY }));
  }
}

async function count(db: pg.Pool, table: 'sensor_readings' | 'sensor_errors'): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
}

/** Polls until `table` holds `target` rows; returns the time it was first seen, or undefined on timeout. */
export async function until(
  db: pg.Pool,
  table: 'sensor_readings' | 'sensor_errors',
  target: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const started = performance.now();
    if ((await count(db, table)) >= target) return started;
    if (started > deadline) return undefined;
    await sleep(POLL_MS);
  }
}

/** The emulator's own drain rate: every shard read from the start, in parallel, as fast as it serves. */
async function rawDrain(kinesis: KinesisClient, streamName: string): Promise<{ records: number; ms: number }> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const started = performance.now();
  const counts = await Promise.all(
    shards.map(async (shard) => {
      let iterator = (
        await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: streamName,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      let n = 0;
      while (iterator) {
        const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        const got = out.Records?.length ?? 0;
        n += got;
        if (got === 0 && (out.MillisBehindLatest ?? 0) === 0) break;
        iterator = out.NextShardIterator;
      }
      return n;
    }),
  );
  return { records: counts.reduce((a, b) => a + b, 0), ms: performance.now() - started };
}

/** What every phase of one run shares: the stack, the database, the probe and the running totals. */
interface E2eRun {
  readonly stack: RunningStack;
  readonly db: pg.Pool;
  readonly probe: VisibilityProbe;
  readonly streamName: string;
  readonly settleMs: number;
  readonly log: (line: string) => void;
  /** Rows the database must hold once everything put so far has landed. */
  readonly expected: { valid: number; rejected: number };
}

/** When a phase's rows became visible (undefined: not within the wait) and its latencies. */
interface Landing {
  readonly readingsAt: number | undefined;
  readonly errorsAt: number | undefined;
  readonly latency: Latency;
}

export async function benchE2e(server: BenchServer, options: E2eOptions): Promise<E2eResult> {
  const source = topology.kinesisSources.find((s) => s.function === 'validator');
  if (!source) throw new Error('the topology has no Kinesis source for the validator');
  const { stack, databaseUrl } = await startE2eStack(server, options);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  // An idle connection the server ends (a restart, another session's clean-up) is reported on the
  // pool; unheard, it would be an uncaught exception that ends the whole run. The next query reconnects.
  db.on('error', (error) => options.log(`e2e: an idle database connection was closed (${error.message})`));
  const run: E2eRun = {
    stack,
    db,
    probe: new VisibilityProbe(db),
    streamName: stack.endpoints.streamName,
    settleMs: options.settleTimeoutMs ?? 180_000,
    log: options.log,
    expected: { valid: 0, rejected: 0 },
  };
  try {
    await warmUp(run, options);
    const fixedLoad = {
      offeredPerSecond: options.rate,
      p99TargetMs: 2 * source.maxBatchingWindowSeconds * 1000 + 250,
      ...(await fixedLoadPhase(run, options)),
    };
    const saturation = await saturationPhase(run, options);
    const hostStats = stack.host.status();
    const { drain, drainRate } = await drainBaseline(run);
    const copy = await copyLimit(server, options, source.batchSize, run.log);
    const limit = Math.min(drainRate, copy.recordsPerSecondEquivalent);
    return {
      shards: topology.stream.shardCount,
      batchSize: source.batchSize,
      batchingWindowMs: source.maxBatchingWindowSeconds * 1000,
      parallelizationFactor: source.parallelizationFactor,
      fixedLoad,
      saturation,
      drain,
      copy,
      binds: copy.recordsPerSecondEquivalent < drainRate ? 'copy' : 'drain',
      ratio: round(saturation.throughputPerSecond / drainRate),
      ratioToLimit: round(saturation.throughputPerSecond / limit),
      hostStats,
    };
  } finally {
    await run.probe.stop();
    await stack.stop();
    await db.end().catch(() => undefined);
  }
}

/** The embedded stack as `npm start` runs it, on a database of this run, schedules off. */
async function startE2eStack(
  server: BenchServer,
  options: E2eOptions,
): Promise<{ stack: RunningStack; databaseUrl: string }> {
  const profiling = options.cpuProfileDir
    ? `--import ${pathToFileURL(profilerPreload(options.cpuProfileDir)).href}`
    : undefined;
  // The emulator process (kinesalite) inherits this process's environment: profiled through it.
  const nodeOptions = process.env.NODE_OPTIONS;
  if (profiling) process.env.NODE_OPTIONS = profiling;
  try {
    const { stack, databaseUrl } = await startBenchStack(server, 'e2e', {
      logDir: options.logDir,
      log: options.log,
      ...(profiling ? { environment: { NODE_OPTIONS: profiling } } : {}),
    });
    return { stack, databaseUrl };
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
}

/** Waits until everything put so far has landed; the set's rows are added to the totals first. */
async function awaitLanding(run: E2eRun, set: RecordSet): Promise<Landing> {
  run.expected.valid += set.expected.valid;
  run.expected.rejected += set.records.length - set.expected.valid;
  const readingsAt = await until(run.db, 'sensor_readings', run.expected.valid, run.settleMs);
  const errorsAt = await until(run.db, 'sensor_errors', run.expected.rejected, run.settleMs);
  return { readingsAt, errorsAt, latency: run.probe.take() };
}

/** A phase's figures, every time measured from its first put (`t0`). */
function phaseResult(set: RecordSet, t0: number, lastPut: number, landing: Landing): PhaseResult {
  const records = set.records.length;
  return {
    records,
    validRows: set.expected.valid,
    throughputPerSecond: landing.readingsAt === undefined ? 0 : round((records / (landing.readingsAt - t0)) * 1000),
    putPerSecond: round((records / Math.max(1, lastPut - t0)) * 1000),
    latencyMs: landing.latency,
    allLandedSeconds: landing.errorsAt === undefined ? null : round((landing.errorsAt - t0) / 1000),
    caughtUp: landing.readingsAt !== undefined,
  };
}

/** Cold starts happen here, outside every measured phase. */
async function warmUp(run: E2eRun, options: E2eOptions): Promise<void> {
  const warm = recordSet({ count: options.warmupRecords, seed: 20, sensors: options.sensors, positionOffset: 0 });
  run.log(`e2e: warm-up, ${warm.records.length} records (cold starts happen here)`);
  for (let i = 0; i < warm.records.length; i += PUT_CHUNK)
    await put(run.stack.kinesis, run.streamName, warm.records.slice(i, i + PUT_CHUNK));
  const landing = await awaitLanding(run, warm);
  if (landing.readingsAt === undefined) throw new Error('e2e: warm-up readings never all landed');
}

/** Fixed offered load: `rate` readings/s, one PutRecords every 100 ms, every 5th valid one watched. */
async function fixedLoadPhase(run: E2eRun, options: E2eOptions): Promise<PhaseResult> {
  const set = recordSet({
    count: Math.round(options.rate * options.seconds),
    seed: 21,
    sensors: options.sensors,
    positionOffset: 0,
  });
  run.log(`e2e: ${options.rate} readings/s for ${options.seconds} s`);
  const perTick = Math.max(1, Math.round(options.rate / 10));
  const t0 = performance.now();
  let lastPut = t0;
  for (let tick = 0, i = 0; i < set.records.length; tick++, i += perTick) {
    const due = t0 + tick * 100;
    const now = performance.now();
    if (due > now) await sleep(due - now);
    const slice = set.records.slice(i, i + perTick);
    const putAt = performance.now();
    slice.forEach((r, k) => {
      if (r.expected === 'valid' && (i + k) % 5 === 0) run.probe.watch(r.readingId, putAt);
    });
    await put(run.stack.kinesis, run.streamName, slice);
    lastPut = performance.now();
  }
  return phaseResult(set, t0, lastPut, await awaitLanding(run, set));
}

/** The saturation phase's records (the COPY limit copies the same ones). */
function saturationSpec(options: E2eOptions): RecordSetSpec {
  return { count: options.saturationRecords, seed: 22, sensors: options.sensors, positionOffset: 0 };
}

/** Saturation: the set put by four concurrent writers as fast as the emulator takes it. */
async function saturationPhase(run: E2eRun, options: E2eOptions): Promise<PhaseResult> {
  const set = recordSet(saturationSpec(options));
  run.log(`e2e: saturation, ${set.records.length} records as fast as the emulator takes them`);
  const t0 = performance.now();
  const chunks: SimulatedRecord[][] = [];
  for (let i = 0; i < set.records.length; i += PUT_CHUNK) chunks.push(set.records.slice(i, i + PUT_CHUNK));
  let next = 0;
  const sampleEvery = Math.max(2, Math.round(set.records.length / 2_000));
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < chunks.length) {
        const index = next++;
        const chunk = chunks[index] as SimulatedRecord[];
        const putAt = performance.now();
        chunk.forEach((r, k) => {
          if (r.expected === 'valid' && (index * PUT_CHUNK + k) % sampleEvery === 0)
            run.probe.watch(r.readingId, putAt);
        });
        await put(run.stack.kinesis, run.streamName, chunk);
      }
    }),
  );
  const lastPut = performance.now();
  return phaseResult(set, t0, lastPut, await awaitLanding(run, set));
}

/** The baseline: raw GetRecords over the same stream with the host idle, median of three. */
async function drainBaseline(run: E2eRun): Promise<{ drain: E2eResult['drain']; drainRate: number }> {
  run.log('e2e: drain baseline (raw GetRecords over the same stream, host idle)');
  const runs: { records: number; ms: number }[] = [];
  for (let r = 0; r < 3; r++) runs.push(await rawDrain(run.stack.kinesis, run.streamName));
  const rates = runs.map((r) => (r.records / r.ms) * 1000).sort((a, b) => a - b);
  const drainRate = rates[Math.floor(rates.length / 2)] ?? Number.NaN;
  const drain = {
    records: runs[0]?.records ?? 0,
    recordsPerSecond: round(drainRate),
    runs: rates.map((x) => round(x)),
  };
  return { drain, drainRate };
}

/**
 * The second limit: the saturation set's valid rows by raw COPY (text prepared before the
 * clock, one COPY per validator-size batch, as the ingest baseline), into a fresh clone with the
 * same indexes and trigger, while the stack is idle.
 */
async function copyLimit(
  server: BenchServer,
  options: E2eOptions,
  batchSize: number,
  log: (line: string) => void,
): Promise<E2eResult['copy']> {
  log("e2e: COPY limit (raw COPY of the saturation set's valid rows, stack idle)");
  const { batches } = prepare(saturationSpec(options), batchSize);
  const client = new pg.Client({ connectionString: await server.createDatabase('e2e_copy') });
  await client.connect();
  try {
    const started = performance.now();
    for (const batch of batches) await copyBatch(client, batch.copy);
    const ms = performance.now() - started;
    const rows = batches.reduce((n, b) => n + b.rows.length, 0);
    return { rows, ms: round(ms), recordsPerSecondEquivalent: round((options.saturationRecords / ms) * 1000) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
