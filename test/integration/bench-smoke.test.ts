/**
 * Smoke run of the benchmark harness (`npm run bench`) on a few hundred records, so the harness
 * cannot rot unnoticed. No timing is asserted (DESIGN.md section 7: timing belongs to the
 * benchmark, never to tests); what is asserted is that every benchmark ran against real parts
 * and accounted for every record, and that the results are well formed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BenchResults, renderMarkdown, renderTable, tableRows } from '#bench/report.js';
import { BENCHMARKS, QUICK, runBench } from '#bench/run.js';
import { kafkaSkipReason } from '../support/kafka-broker.js';

/** The Kafka benchmark needs kcat's broker; without it (outside CI) it is left out, with the reason printed. */
const kafkaSkip = kafkaSkipReason();
const benchmarks = BENCHMARKS.filter((b) => b !== 'kafka' || kafkaSkip === undefined);

/** The databases a run left on the test server (`keepDatabases`), by benchmark label. */
async function benchDatabases(adminUrl: string, before: ReadonlySet<string>): Promise<Map<string, string[]>> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const rows = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%' AND datname NOT LIKE 'bench\\_template%'",
    );
    const out = new Map<string, string[]>();
    for (const { datname } of rows.rows) {
      if (before.has(datname)) continue;
      const label = datname.replace(/^bench_/, '').replace(/_[a-z0-9]{1,6}$/, '');
      out.set(label, [...(out.get(label) ?? []), datname]);
    }
    return out;
  } finally {
    await admin.end();
  }
}

describe('npm run bench, smoke size', () => {
  let logDir: string;
  let results: BenchResults;
  const adminUrl = inject('pgAdminUrl');
  let databases = new Map<string, string[]>();

  /** Counts in one of the run's databases, read here rather than taken from the report. */
  async function countIn(label: string, sql: string): Promise<number> {
    const [name, ...more] = databases.get(label) ?? [];
    if (more.length > 0) throw new Error(`more than one database for ${label}`);
    if (!name) throw new Error(`the run left no database for ${label} (found: ${[...databases.keys()].join(', ')})`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    logDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-bench-smoke-'));
    const before = new Set([...(await benchDatabases(adminUrl, new Set())).values()].flat());
    results = await runBench({
      ...QUICK,
      records: 600,
      warmupRecords: 500,
      // Not the topology's 500, so the --batch-size path is exercised: 600 records, 3 batches.
      batchSize: 200,
      rowByRowSample: 20,
      sensors: 50,
      aggReadings: 2_000,
      aggSensors: 20,
      rounds: 1,
      lateFractions: [0.01],
      rate: 200,
      seconds: 2,
      saturationRecords: 500,
      e2eWarmupRecords: 200,
      memoryBatch: 300,
      apiSensors: 20,
      apiSmallReadings: 400,
      apiLargeReadings: 1_000,
      apiRequests: 3,
      apiPollers: 3,
      apiPollSeconds: 1,
      apiWriteBatches: 2,
      kafkaRecords: 300,
      only: benchmarks,
      mqttDevices: 5,
      mqttMessages: 100,
      mqttRate: 50,
      mqttSeconds: 1,
      adminUrl,
      keepDatabases: true,
      logDir,
      quiet: true,
    });
    databases = await benchDatabases(adminUrl, before);
    // A wait for the harness to finish, not a goal: its fixed-rate phases and child processes
    // stretch with the machine's load, and 240 s was once not enough beside other suites.
  }, 900_000);

  afterAll(async () => {
    if (logDir) await rm(logDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const left = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'",
    );
    for (const { datname } of left.rows)
      await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(datname)} WITH (FORCE)`);
    await admin.end();
  });

  it('runs every benchmark without a failure', () => {
    expect(results.failures).toEqual([]);
    expect(results.options.only).toEqual(benchmarks);
  });

  it('ingest lands every record exactly once, in the handler database as in the COPY baseline', () => {
    const ingest = results.ingest;
    if (!ingest) throw new Error('no ingest result');
    expect(ingest.records).toBe(600);
    expect(ingest.subject.itemFailures).toBe(0);
    // Warm-up and measured sets both went through the handler and the COPY baseline.
    expect(ingest.check.copyRows).toBe(ingest.check.subjectRows);
    expect(ingest.check.subjectRows + ingest.check.queuedErrors).toBe(600 + 500);
    expect(ingest.validRows + ingest.rejected).toBe(600);
    expect(ingest.faultMix.valid).toBe(ingest.validRows);
    expect(ingest.rowByRow.rows).toBe(20);
    expect(ingest.batchSize).toBe(200);
    expect(ingest.batches).toBe(3);
    // Rejections travel packed (v2 messages): fewer messages than rejections.
    expect(ingest.check.queuedMessages).toBeGreaterThan(0);
    expect(ingest.check.queuedMessages).toBeLessThan(ingest.check.queuedErrors);
  });

  it('the databases hold what the report says the benchmarks wrote', async () => {
    const ingest = results.ingest;
    const agg = results.aggregation;
    const e2e = results.e2e;
    if (!ingest || !agg || !e2e) throw new Error('a benchmark result is missing');
    const readings = 'SELECT count(*) AS n FROM sensor_readings';
    const landed = 'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n';
    // Ingest: warm-up and measured sets through the handler; the COPY baseline stored the same.
    const subject = await countIn('ingest_subject', readings);
    expect(subject).toBeGreaterThan(0);
    expect(subject).toBe(ingest.check.subjectRows);
    expect(subject + ingest.check.queuedErrors).toBe(600 + 500);
    expect(await countIn('ingest_copy', readings)).toBe(subject);
    // Aggregation: every stored reading, each covered once by the windows.
    expect(await countIn('aggregation', readings)).toBe(2_000 + 20);
    expect(await countIn('aggregation', 'SELECT sum(reading_count) AS n FROM sensor_aggregations')).toBe(2_000 + 20);
    // End to end: every record of the stream landed once, as a reading or as a rejection.
    expect(await countIn('e2e', landed)).toBe(e2e.drain.records);
  });

  it('aggregation agrees with the bare GROUP BY and covers every stored reading', () => {
    const agg = results.aggregation;
    if (!agg) throw new Error('no aggregation result');
    expect(agg.readings).toBe(2_000);
    expect(agg.check.mismatchedWindows).toBe(0);
    expect(agg.check.readingsCovered).toBe(agg.check.readingsStored);
    // 20 late readings (1%), each touching at most one window.
    expect(agg.check.readingsStored).toBe(2_000 + 20);
    expect(agg.incremental).toHaveLength(1);
    expect(agg.incremental[0]?.windowsTouched).toBeGreaterThan(0);
    expect(agg.incremental[0]?.windowsTouched).toBeLessThanOrEqual(20);
  });

  it('end to end: every valid reading became visible, latencies were sampled, the drain read every record', () => {
    const e2e = results.e2e;
    if (!e2e) throw new Error('no e2e result');
    expect(e2e.fixedLoad.caughtUp).toBe(true);
    expect(e2e.saturation.caughtUp).toBe(true);
    expect(e2e.fixedLoad.records).toBe(400);
    expect(e2e.fixedLoad.latencyMs.samples).toBeGreaterThan(0);
    expect(e2e.saturation.latencyMs.samples).toBeGreaterThan(0);
    expect(e2e.drain.records).toBe(200 + 400 + 500);
  });

  it('api: both fleet sizes, both windows spans and the pollers were measured, without errors', () => {
    const api = results.api;
    if (!api) throw new Error('no api result');
    expect(api.fleet.small.readings).toBe(400);
    expect(api.fleet.large.readings).toBe(1_000);
    expect(api.windows.map((w) => w.buckets)).toEqual([1_440, 720]);
    expect(api.pollers.requests).toBeGreaterThan(0);
    expect(api.pollers.errors).toBe(0);
    expect(api.writePath.ratio).toBeGreaterThan(0);
  });

  it('memory: the child measured its peak after handling the batch', () => {
    const memory = results.memory;
    if (!memory) throw new Error('no memory result');
    expect(memory.batchRecords).toBe(300);
    expect(memory.itemFailures).toBe(0);
    expect(memory.maxRssPeakMb).toBeGreaterThanOrEqual(memory.maxRssAfterInitMb);
  });

  it.skipIf(kafkaSkip !== undefined)(
    `kafka: every reading reached the stream through the door, in batches${kafkaSkip ? ` (skipped: ${kafkaSkip})` : ''}`,
    () => {
      const k = results.kafka;
      if (!k) throw new Error('no kafka result');
      expect(k.records).toBe(300);
      expect(k.subject.invocations).toBeGreaterThan(0);
      expect(k.subject.recordsPerInvocation).toBeLessThanOrEqual(k.settings.batchSize);
      expect(k.baseline.putRecordsCalls).toBeGreaterThan(0);
    },
  );

  it('reports every ratio, each with a finite value and a target, in JSON and in the table', () => {
    const names = results.ratios.map((r) => r.name);
    expect(names).toHaveLength(kafkaSkip === undefined ? 11 : 10);
    for (const prefix of [
      'api: fleet',
      'api: windows 24 h',
      'api: windows 30 days',
      'ingest',
      'e2e: saturation',
      'e2e: p99',
      'aggregation: full',
      'aggregation: incremental',
      'memory',
      ...(kafkaSkip === undefined ? ['kafka'] : []),
      'mqtt',
    ]) {
      expect(names.some((n) => n.startsWith(prefix))).toBe(true);
    }
    for (const r of results.ratios) {
      expect(Number.isFinite(r.value)).toBe(true);
      expect(r.value).toBeGreaterThan(0);
      expect(r.target).not.toBe('');
    }
    const parsed = JSON.parse(JSON.stringify(results)) as BenchResults;
    expect(parsed.ratios).toEqual(results.ratios);
    const table = renderTable(tableRows(results));
    const markdown = renderMarkdown(tableRows(results));
    for (const figure of [
      'ingest',
      'e2e saturation',
      'aggregation full',
      'validator peak RSS',
      'api fleet',
      'api 3 pollers',
    ]) {
      expect(table).toContain(figure);
      expect(markdown).toContain(figure);
    }
  });

  it('mqtt: every published reading was acknowledged, the ratio and latencies are measured', () => {
    const mqtt = results.mqtt;
    if (!mqtt) throw new Error('no mqtt result');
    expect(mqtt.mqtt.failed).toBe(0);
    expect(mqtt.mqtt.messagesPerSecond).toBeGreaterThan(0);
    expect(mqtt.direct.recordsPerSecond).toBeGreaterThan(0);
    expect(mqtt.fixedLoad.publishToRowMs.samples).toBeGreaterThan(0);
    expect(results.ratios.some((r) => r.name.startsWith('mqtt'))).toBe(true);
  });
});
