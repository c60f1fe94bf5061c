/**
 * `npm run bench`: ingest, end to end, aggregation and memory, each against a baseline measured
 * side by side in the same run (docs/DESIGN.md section 7), because these machines are shared and
 * noisy and only ratios travel between runs.
 *
 * Usage: `npm run bench -- --help` (USAGE below); a mistyped flag exits 2 with its message.
 *   --cpu-prof writes V8 CPU profiles of the ingest validator worker and of the e2e function
 *   containers and kinesalite process to the run's log folder; run under
 *   `node --cpu-prof --import tsx` for the host.
 *
 * Prints a table on stdout (progress on stderr), writes the JSON to bench/results/. A failed
 * benchmark is reported in the table and the JSON and makes the exit status 1; the others run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchAggregation } from './aggregation.js';
import { benchApi } from './api.js';
import { logger, PROJECT_ROOT, startBenchServer } from './common.js';
import { benchE2e } from './e2e.js';
import { benchIngest } from './ingest.js';
import { benchKafka, KAFKA_BENCH_SETTINGS } from './kafka.js';
import { benchMemory } from './memory.js';
import { benchMqtt } from './mqtt.js';
import { VALIDATOR_BATCH_SIZE } from './records.js';
import {
  type BenchResults,
  limitRows,
  limits,
  loadWarning,
  ratios,
  renderMarkdown,
  renderTable,
  tableRows,
} from './report.js';

export const BENCHMARKS = ['ingest', 'e2e', 'aggregation', 'memory', 'api', 'kafka', 'mqtt'] as const;
export type Benchmark = (typeof BENCHMARKS)[number];

export interface BenchOptions {
  readonly only: readonly Benchmark[];
  readonly records: number;
  readonly warmupRecords: number;
  readonly rowByRowSample: number;
  readonly sensors: number;
  readonly aggReadings: number;
  readonly aggSensors: number;
  readonly rounds: number;
  readonly lateFractions: readonly number[];
  /**
   * Records per validator batch in the ingest benchmark (and per COPY of its baseline). The
   * topology's size by default; other sizes show which costs are per batch and which per record.
   */
  readonly batchSize: number;
  readonly rate: number;
  readonly seconds: number;
  readonly saturationRecords: number;
  readonly e2eWarmupRecords: number;
  readonly memoryBatch: number;
  /** Query API benchmark (bench/api.ts): fleet size, the two table sizes, samples, pollers. */
  readonly apiSensors: number;
  readonly apiSmallReadings: number;
  readonly apiLargeReadings: number;
  readonly apiRequests: number;
  readonly apiPollers: number;
  readonly apiPollSeconds: number;
  readonly apiWriteBatches: number;
  /** Readings sent through the Kafka door (and straight into the stream, its baseline). */
  readonly kafkaRecords: number;
  /** MQTT door: simulated devices, readings in the throughput phase, rate and length of the latency phase. */
  readonly mqttDevices: number;
  readonly mqttMessages: number;
  readonly mqttRate: number;
  readonly mqttSeconds: number;
  /** An existing PostgreSQL server's superuser URL; an embedded one is started otherwise. */
  readonly adminUrl?: string | undefined;
  /** With `adminUrl`: leave the benchmark's databases there after the run (the smoke test counts their rows). */
  readonly keepDatabases?: boolean | undefined;
  /** Folder for child-process logs and the e2e stack's state. */
  readonly logDir: string;
  /** Folder for CPU profiles of the ingest validator worker, the e2e function containers and kinesalite (`--cpu-prof`). */
  readonly cpuProfileDir?: string | undefined;
  readonly quick: boolean;
  readonly quiet: boolean;
}

/** Full size: the figures the issue asks for. */
export const FULL: Omit<BenchOptions, 'logDir' | 'quiet' | 'adminUrl'> = {
  only: BENCHMARKS,
  records: 200_000,
  warmupRecords: 5_000,
  rowByRowSample: 2_000,
  sensors: 1_000,
  aggReadings: 1_000_000,
  aggSensors: 1_000,
  rounds: 3,
  lateFractions: [0.001, 0.01],
  batchSize: VALIDATOR_BATCH_SIZE,
  rate: 1_000,
  seconds: 30,
  saturationRecords: 60_000,
  e2eWarmupRecords: 4_000,
  memoryBatch: 10_000,
  apiSensors: 10_000,
  apiSmallReadings: 1_000_000,
  apiLargeReadings: 5_000_000,
  apiRequests: 200,
  apiPollers: 200,
  apiPollSeconds: 30,
  apiWriteBatches: 40,
  kafkaRecords: 50_000,
  mqttDevices: 100,
  mqttMessages: 20_000,
  mqttRate: 500,
  mqttSeconds: 20,
  quick: false,
};

/** `--quick`: every figure, smaller, well under two minutes. */
export const QUICK: typeof FULL = {
  ...FULL,
  records: 20_000,
  warmupRecords: 2_000,
  rowByRowSample: 300,
  aggReadings: 100_000,
  aggSensors: 100,
  rounds: 2,
  seconds: 8,
  saturationRecords: 10_000,
  e2eWarmupRecords: 2_000,
  apiSensors: 1_000,
  apiSmallReadings: 100_000,
  apiLargeReadings: 500_000,
  apiRequests: 50,
  apiPollers: 50,
  apiPollSeconds: 5,
  apiWriteBatches: 20,
  kafkaRecords: 5_000,
  mqttMessages: 3_000,
  mqttSeconds: 5,
  quick: true,
};

function machine(
  server: { version: string; settings: Readonly<Record<string, string>> },
  loadBefore: number[],
): BenchResults['machine'] {
  const cores = os.cpus().length;
  const loadAfter = currentLoad();
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    postgres: server.version.split(' on ')[0] ?? server.version,
    postgresSettings: server.settings,
    loadBefore,
    loadAfter,
    loadWarning: loadWarning(cores, loadBefore, loadAfter),
  };
}

/** 1/5/15-minute load averages, as `uptime` prints them. */
function currentLoad(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

/** Runs the selected benchmarks; never throws for one benchmark's failure (it is in `failures`). */
export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const log = logger(options.quiet);
  const started = Date.now();
  const loadBefore = currentLoad();
  if (loadBefore[0] !== undefined && loadBefore[0] > os.cpus().length)
    log(`warning: load ${loadBefore.join(' ')} on ${os.cpus().length} cores before the run; figures will be noisy`);
  mkdirSync(options.logDir, { recursive: true });
  const server = await startBenchServer({ adminUrl: options.adminUrl, keepDatabases: options.keepDatabases, log });
  const results: { -readonly [K in keyof BenchResults]?: BenchResults[K] } = {};
  const failures: { benchmark: string; message: string }[] = [];
  const attempt = async (name: Benchmark, work: () => Promise<void>): Promise<void> => {
    if (!options.only.includes(name)) return;
    try {
      await work();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
      failures.push({ benchmark: name, message });
    }
  };
  try {
    await attempt('ingest', async () => {
      results.ingest = await benchIngest(server, {
        records: options.records,
        warmupRecords: options.warmupRecords,
        rowByRowSample: options.rowByRowSample,
        sensors: options.sensors,
        logDir: options.logDir,
        cpuProfileDir: options.cpuProfileDir,
        batchSize: options.batchSize,
        log,
      });
    });
    await attempt('memory', async () => {
      results.memory = await benchMemory(server, {
        batchRecords: options.memoryBatch,
        sensors: options.sensors,
        logDir: options.logDir,
        log,
      });
    });
    await attempt('aggregation', async () => {
      results.aggregation = await benchAggregation(server, {
        readings: options.aggReadings,
        sensors: options.aggSensors,
        rounds: options.rounds,
        lateFractions: options.lateFractions,
        log,
      });
    });
    await attempt('e2e', async () => {
      results.e2e = await benchE2e(server, {
        rate: options.rate,
        seconds: options.seconds,
        saturationRecords: options.saturationRecords,
        warmupRecords: options.e2eWarmupRecords,
        sensors: options.sensors,
        logDir: options.logDir,
        cpuProfileDir: options.cpuProfileDir,
        log,
      });
    });
    await attempt('api', async () => {
      results.api = await benchApi(server, {
        sensors: options.apiSensors,
        smallReadings: options.apiSmallReadings,
        largeReadings: options.apiLargeReadings,
        requests: options.apiRequests,
        pollers: options.apiPollers,
        pollSeconds: options.apiPollSeconds,
        writeBatches: options.apiWriteBatches,
        log,
      });
    });
    await attempt('kafka', async () => {
      results.kafka = await benchKafka({
        records: options.kafkaRecords,
        sensors: options.sensors,
        settings: KAFKA_BENCH_SETTINGS,
        log,
      });
    });
    await attempt('mqtt', async () => {
      results.mqtt = await benchMqtt(server, {
        devices: options.mqttDevices,
        messages: options.mqttMessages,
        rate: options.mqttRate,
        seconds: options.mqttSeconds,
        logDir: options.logDir,
        log,
      });
    });
  } finally {
    await server.stop();
  }
  const {
    logDir: _logDir,
    quiet: _quiet,
    adminUrl: _adminUrl,
    keepDatabases: _keep,
    cpuProfileDir: _cpu,
    ...shown
  } = options;
  return {
    startedAt: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    quick: options.quick,
    options: shown,
    machine: machine(server, loadBefore),
    ...results,
    ratios: ratios(results),
    limits: limits(results),
    failures,
  };
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  return n;
}

const USAGE = `usage: npm run bench -- [--quick] [--only ${BENCHMARKS.join(',')}] [--records N]
  [--agg-readings N] [--agg-sensors N] [--rate N] [--seconds N] [--saturation N] [--batch-size N]
  [--memory-batch N] [--row-sample N] [--rounds N] [--admin-url URL] [--out DIR] [--markdown]
  [--quiet] [--cpu-prof]   (docs/benchmarks.md says what each measures)`;

/** A mistyped flag gets its message and the usage, never a stack trace. */
class UsageError extends Error {}

function parseCommandLine(): ReturnType<typeof parseBenchArgs> | undefined {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }
  try {
    return parseBenchArgs();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parseBenchArgs() {
  return parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      records: { type: 'string' },
      'agg-readings': { type: 'string' },
      'agg-sensors': { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      saturation: { type: 'string' },
      'memory-batch': { type: 'string' },
      'row-sample': { type: 'string' },
      'admin-url': { type: 'string' },
      out: { type: 'string' },
      markdown: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
    },
    strict: true,
  });
}

async function main(): Promise<void> {
  const parsed = parseCommandLine();
  if (!parsed) return;
  const { values } = parsed;
  const base = values.quick ? QUICK : FULL;
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...BENCHMARKS];
  const unknown = only.filter((s) => !(BENCHMARKS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(`--only: unknown benchmark(s) ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const options: BenchOptions = {
    ...base,
    only: only as Benchmark[],
    records: positiveInt('records', values.records, base.records),
    aggReadings: positiveInt('agg-readings', values['agg-readings'], base.aggReadings),
    aggSensors: positiveInt('agg-sensors', values['agg-sensors'], base.aggSensors),
    rounds: positiveInt('rounds', values.rounds, base.rounds),
    rate: positiveInt('rate', values.rate, base.rate),
    seconds: positiveInt('seconds', values.seconds, base.seconds),
    saturationRecords: positiveInt('saturation', values.saturation, base.saturationRecords),
    memoryBatch: positiveInt('memory-batch', values['memory-batch'], base.memoryBatch),
    rowByRowSample: positiveInt('row-sample', values['row-sample'], base.rowByRowSample),
    batchSize: positiveInt('batch-size', values['batch-size'], base.batchSize),
    adminUrl: values['admin-url'] ?? process.env.BENCH_ADMIN_URL,
    logDir: path.join(os.tmpdir(), 'iot-first-bench', stamp),
    cpuProfileDir: values['cpu-prof'] ? path.join(os.tmpdir(), 'iot-first-bench', stamp, 'cpu-profiles') : undefined,
    quiet: values.quiet ?? false,
  };
  const results = await runBench(options);
  const outDir = values.out ?? path.join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${stamp}${results.quick ? '-quick' : ''}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(path.join(outDir, 'latest.json'), json);
  const rows = tableRows(results);
  const m = results.machine;
  process.stdout.write(`\n${renderTable(rows)}\n\n`);
  if (results.limits.length > 0)
    process.stdout.write(`The limit of each figure:\n${renderTable(limitRows(results.limits))}\n\n`);
  process.stdout.write(
    `machine: ${m.cores} × ${m.cpuModel}, ${m.memoryGb} GiB, ${m.node}, ${m.postgres}; load ${m.loadBefore.join(' ')} → ${m.loadAfter.join(' ')}\n`,
  );
  if (m.loadWarning) process.stdout.write(`WARNING: ${m.loadWarning}\n`);
  process.stdout.write(
    `took ${results.durationSeconds} s; JSON: ${path.relative(process.cwd(), file)}; logs: ${options.logDir}\n`,
  );
  if (values.markdown) {
    process.stdout.write(`\n${renderMarkdown(rows)}\n`);
    if (results.limits.length > 0) process.stdout.write(`\n${renderMarkdown(limitRows(results.limits))}\n`);
    if (m.loadWarning) process.stdout.write(`\n**Warning:** ${m.loadWarning}\n`);
  }
  if (results.failures.length > 0) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Exit explicitly: a child or socket left open by a failed benchmark must not hang the CLI.
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (error: unknown) => {
      if (error instanceof UsageError) {
        process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
        process.exit(2);
      }
      process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
