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

import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
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
import type { SimulatedRecord } from '#domain/fleet.js';
import { type RunningStack, startStack } from '#runtime/stack.js';
import { topology } from '#topology.js';
import { type BenchServer, PROJECT_ROOT, percentile, round, sleep } from './common.js';
import { recordSet } from './records.js';

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
  /** Saturation throughput ÷ drain rate. */
  readonly ratio: number;
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
import { writeFileSync } from 'node:fs';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(${JSON.stringify(dir)} + '/' + (process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'node') + '-' + process.pid + '.cpuprofile', JSON.stringify(result.profile));
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
    if (pending.length > 0) await sleep(50 * 2 ** attempt);
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
async function drain(kinesis: KinesisClient, streamName: string): Promise<{ records: number; ms: number }> {
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

export async function benchE2e(server: BenchServer, options: E2eOptions): Promise<E2eResult> {
  const { log } = options;
  const settleMs = options.settleTimeoutMs ?? 180_000;
  const source = topology.kinesisSources.find((s) => s.function === 'validator');
  if (!source) throw new Error('the topology has no Kinesis source for the validator');
  const databaseUrl = await server.createDatabase('e2e');
  const stateDir = path.join(options.logDir, `e2e-${Date.now().toString(36)}`);
  mkdirSync(stateDir, { recursive: true });
  const hostLog = path.join(stateDir, 'host.log');
  log(`e2e: starting the embedded stack (logs in ${stateDir})`);
  const stack: RunningStack = await startStack({
    projectRoot: PROJECT_ROOT,
    stateDir,
    databaseUrl,
    ports: { postgres: 0, kinesis: 0, sqs: 0, lambda: 0 },
    host: { enable: { schedules: false } },
    ...(options.cpuProfileDir
      ? { environment: { NODE_OPTIONS: `--import ${pathToFileURL(profilerPreload(options.cpuProfileDir)).href}` } }
      : {}),
    log: (line) => appendFileSync(hostLog, `${line}\n`),
  });
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const probe = new VisibilityProbe(db);
  const streamName = stack.endpoints.streamName;
  let validSoFar = 0;
  let rejectedSoFar = 0;
  try {
    const warm = recordSet({ count: options.warmupRecords, seed: 20, sensors: options.sensors, positionOffset: 0 });
    log(`e2e: warm-up, ${warm.records.length} records (cold starts happen here)`);
    for (let i = 0; i < warm.records.length; i += PUT_CHUNK)
      await put(stack.kinesis, streamName, warm.records.slice(i, i + PUT_CHUNK));
    validSoFar += warm.expected.valid;
    rejectedSoFar += warm.records.length - warm.expected.valid;
    if ((await until(db, 'sensor_readings', validSoFar, settleMs)) === undefined)
      throw new Error('e2e: warm-up readings never all landed');
    await until(db, 'sensor_errors', rejectedSoFar, settleMs);
    probe.take();

    // Fixed offered load.
    const steadySet = recordSet({
      count: Math.round(options.rate * options.seconds),
      seed: 21,
      sensors: options.sensors,
      positionOffset: 0,
    });
    log(`e2e: ${options.rate} readings/s for ${options.seconds} s`);
    const perTick = Math.max(1, Math.round(options.rate / 10));
    const t0 = performance.now();
    let lastPut = t0;
    for (let tick = 0, i = 0; i < steadySet.records.length; tick++, i += perTick) {
      const due = t0 + tick * 100;
      const now = performance.now();
      if (due > now) await sleep(due - now);
      const slice = steadySet.records.slice(i, i + perTick);
      const putAt = performance.now();
      slice.forEach((r, k) => {
        if (r.expected === 'valid' && (i + k) % 5 === 0) probe.watch(r.readingId, putAt);
      });
      await put(stack.kinesis, streamName, slice);
      lastPut = performance.now();
    }
    validSoFar += steadySet.expected.valid;
    rejectedSoFar += steadySet.records.length - steadySet.expected.valid;
    const steadyDone = await until(db, 'sensor_readings', validSoFar, settleMs);
    const steadyErrors = await until(db, 'sensor_errors', rejectedSoFar, settleMs);
    const steadyLatency = probe.take();
    const fixedLoad = {
      offeredPerSecond: options.rate,
      p99TargetMs: 2 * source.maxBatchingWindowSeconds * 1000 + 250,
      records: steadySet.records.length,
      validRows: steadySet.expected.valid,
      throughputPerSecond: steadyDone === undefined ? 0 : round((steadySet.records.length / (steadyDone - t0)) * 1000),
      putPerSecond: round((steadySet.records.length / Math.max(1, lastPut - t0)) * 1000),
      latencyMs: steadyLatency,
      allLandedSeconds: steadyErrors === undefined ? null : round((steadyErrors - t0) / 1000),
      caughtUp: steadyDone !== undefined,
    };

    // Saturation.
    const satSet = recordSet({
      count: options.saturationRecords,
      seed: 22,
      sensors: options.sensors,
      positionOffset: 0,
    });
    log(`e2e: saturation, ${satSet.records.length} records as fast as the emulator takes them`);
    const s0 = performance.now();
    const chunks: SimulatedRecord[][] = [];
    for (let i = 0; i < satSet.records.length; i += PUT_CHUNK) chunks.push(satSet.records.slice(i, i + PUT_CHUNK));
    let next = 0;
    const sampleEvery = Math.max(2, Math.round(satSet.records.length / 2_000));
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < chunks.length) {
          const index = next++;
          const chunk = chunks[index] as SimulatedRecord[];
          const putAt = performance.now();
          chunk.forEach((r, k) => {
            if (r.expected === 'valid' && (index * PUT_CHUNK + k) % sampleEvery === 0) probe.watch(r.readingId, putAt);
          });
          await put(stack.kinesis, streamName, chunk);
        }
      }),
    );
    const satPut = performance.now();
    validSoFar += satSet.expected.valid;
    rejectedSoFar += satSet.records.length - satSet.expected.valid;
    const satDone = await until(db, 'sensor_readings', validSoFar, settleMs);
    const satErrors = await until(db, 'sensor_errors', rejectedSoFar, settleMs);
    const satLatency = probe.take();
    const saturation: PhaseResult = {
      records: satSet.records.length,
      validRows: satSet.expected.valid,
      throughputPerSecond: satDone === undefined ? 0 : round((satSet.records.length / (satDone - s0)) * 1000),
      putPerSecond: round((satSet.records.length / Math.max(1, satPut - s0)) * 1000),
      latencyMs: satLatency,
      allLandedSeconds: satErrors === undefined ? null : round((satErrors - s0) / 1000),
      caughtUp: satDone !== undefined,
    };
    const hostStats = stack.host.status();

    log('e2e: drain baseline (raw GetRecords over the same stream, host idle)');
    const runs: { records: number; ms: number }[] = [];
    for (let r = 0; r < 3; r++) runs.push(await drain(stack.kinesis, streamName));
    const rates = runs.map((r) => (r.records / r.ms) * 1000).sort((a, b) => a - b);
    const drainRate = rates[Math.floor(rates.length / 2)] ?? Number.NaN;
    return {
      shards: topology.stream.shardCount,
      batchSize: source.batchSize,
      batchingWindowMs: source.maxBatchingWindowSeconds * 1000,
      parallelizationFactor: source.parallelizationFactor,
      fixedLoad,
      saturation,
      drain: { records: runs[0]?.records ?? 0, recordsPerSecond: round(drainRate), runs: rates.map((x) => round(x)) },
      ratio: round(saturation.throughputPerSecond / drainRate),
      hostStats,
    };
  } finally {
    await probe.stop();
    await stack.stop();
    await db.end().catch(() => undefined);
  }
}
