/**
 * Smoke run of the benchmark harness (`npm run bench`) on a few hundred records, so the harness
 * cannot rot unnoticed. No timing is asserted (DESIGN.md section 7: timing belongs to the
 * benchmark, never to tests); what is asserted is that every benchmark ran against real parts
 * and accounted for every record, and that the results are well formed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BenchResults, renderMarkdown, renderTable, tableRows } from '#bench/report.js';
import { BENCHMARKS, QUICK, runBench } from '#bench/run.js';

describe('npm run bench, smoke size', () => {
  let logDir: string;
  let results: BenchResults;

  beforeAll(async () => {
    logDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-bench-smoke-'));
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
      adminUrl: inject('pgAdminUrl'),
      logDir,
      quiet: true,
    });
    // A wait for the harness to finish, not a goal: its fixed-rate phases and child processes
    // stretch with the machine's load, and 240 s was once not enough beside other suites.
  }, 900_000);

  afterAll(async () => {
    if (logDir) await rm(logDir, { recursive: true, force: true });
  });

  it('runs every benchmark without a failure', () => {
    expect(results.failures).toEqual([]);
    expect(results.options.only).toEqual([...BENCHMARKS]);
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

  it('memory: the child measured its peak after handling the batch', () => {
    const memory = results.memory;
    if (!memory) throw new Error('no memory result');
    expect(memory.batchRecords).toBe(300);
    expect(memory.itemFailures).toBe(0);
    expect(memory.maxRssPeakMb).toBeGreaterThanOrEqual(memory.maxRssAfterInitMb);
  });

  it('reports every ratio, each with a finite value and a target, in JSON and in the table', () => {
    const names = results.ratios.map((r) => r.name);
    expect(names).toHaveLength(6);
    for (const prefix of [
      'ingest',
      'e2e: saturation',
      'e2e: p99',
      'aggregation: full',
      'aggregation: incremental',
      'memory',
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
    for (const figure of ['ingest', 'e2e saturation', 'aggregation full', 'validator peak RSS']) {
      expect(table).toContain(figure);
      expect(markdown).toContain(figure);
    }
  });
});
