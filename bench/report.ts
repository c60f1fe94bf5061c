/**
 * The benchmark's results: one JSON document per run (bench/results/, git-ignored) and a table
 * for the terminal. Every ratio is computed from figures measured in the same run; targets are
 * reported, never asserted (docs/DESIGN.md section 7).
 */
import type { AggregationResult } from './aggregation.js';
import type { ApiResult } from './api.js';
import type { E2eResult } from './e2e.js';
import type { IngestResult } from './ingest.js';
import type { KafkaBenchResult } from './kafka.js';
import type { MemoryResult } from './memory.js';
import type { MqttResult } from './mqtt.js';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly platform: string;
  readonly node: string;
  readonly postgres: string;
  readonly postgresSettings: Readonly<Record<string, string>>;
  /** 1/5/15-minute load averages before and after: the machine is shared. */
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  /**
   * Set when the 1-minute load average before or after the run was above the number of cores:
   * the figures were measured beside other work, so a noisy run is recognisable in its own
   * output. A warning, not a verdict: the ratios are still side by side in the same run.
   */
  readonly loadWarning: string | null;
}

export interface Ratio {
  readonly name: string;
  readonly value: number | null;
  readonly target: string;
  readonly met: boolean | null;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly quick: boolean;
  readonly options: Readonly<Record<string, unknown>>;
  readonly machine: Machine;
  readonly ingest?: IngestResult;
  readonly e2e?: E2eResult;
  readonly aggregation?: AggregationResult;
  readonly memory?: MemoryResult;
  readonly api?: ApiResult;
  readonly kafka?: KafkaBenchResult;
  readonly mqtt?: MqttResult;
  readonly ratios: readonly Ratio[];
  /** What bounds each figure, and how close the subject came to it. */
  readonly limits: readonly Limit[];
  readonly failures: readonly { readonly benchmark: string; readonly message: string }[];
}

/**
 * The warning a busy machine earns (load above its cores before or after the run), or null.
 * The 1-minute average is compared: it is the one that tracks the run itself.
 */
export function loadWarning(cores: number, before: readonly number[], after: readonly number[]): string | null {
  const peak = Math.max(before[0] ?? 0, after[0] ?? 0);
  if (peak <= cores) return null;
  return (
    `machine busy: 1-minute load ${before[0] ?? '?'} before, ${after[0] ?? '?'} after, on ${cores} cores; ` +
    'rates are depressed and ratios noisier than on an idle machine (compare with a quieter run before drawing conclusions)'
  );
}

/** "The limit" of a figure: the rate the subject could reach at best on this machine, this run. */
export interface Limit {
  readonly figure: string;
  /** What the limit is, e.g. raw COPY of the same rows. */
  readonly limit: string;
  readonly subject: string;
  /** Subject ÷ limit (for durations, limit ÷ subject): 1 means at the limit. */
  readonly share: number;
  /** When a figure has more than one candidate limit: which one binds and why. */
  readonly note: string;
}

const rate = (n: number, unit: string): string => `${n.toLocaleString('en-US')} ${unit}`;

/** The limit of each figure measured in this run (ingest, end to end, aggregation). */
export function limits(r: Pick<BenchResults, 'ingest' | 'e2e' | 'aggregation'>): Limit[] {
  const out: Limit[] = [];
  if (r.ingest) {
    const i = r.ingest;
    out.push({
      figure: `ingest, batches of ${i.batchSize}`,
      limit: `raw COPY of the same rows: ${rate(i.copyBaseline.recordsPerSecondEquivalent, 'rec/s')}`,
      subject: `handler ${rate(i.subject.recordsPerSecond, 'rec/s')}`,
      share: i.ratio,
      note: 'the handler cannot beat the server taking the same rows with nothing else to do',
    });
  }
  if (r.e2e) {
    const e = r.e2e;
    const drain = e.drain.recordsPerSecond;
    const copy = e.copy.recordsPerSecondEquivalent;
    const lower = e.binds === 'copy' ? 'COPY' : 'drain';
    out.push({
      figure: 'e2e saturation',
      limit: `drain ${rate(drain, 'rec/s')}; COPY (PostgreSQL alone) ${rate(copy, 'rec/s')}`,
      subject: `${rate(e.saturation.throughputPerSecond, 'rec/s')}`,
      share: e.ratioToLimit,
      note: `${lower} binds (the lower); ${e.ratio.toLocaleString('en-US')} of drain, ${(Math.round((e.saturation.throughputPerSecond / copy) * 1000) / 1000).toLocaleString('en-US')} of COPY`,
    });
  }
  if (r.aggregation) {
    const a = r.aggregation;
    out.push({
      figure: 'aggregation full',
      limit: `bare INSERT … SELECT … GROUP BY: ${rate(a.bare.msMedian, 'ms')}`,
      subject: `${rate(a.full.msMedian, 'ms')}`,
      share: Math.round((a.bare.msMedian / a.full.msMedian) * 1000) / 1000,
      note: 'one scan and one sort, no claims, no upsert',
    });
  }
  return out;
}

/** The limits as table rows (figure, limit, subject, share of the limit, note). */
export function limitRows(list: readonly Limit[]): string[][] {
  return [
    ['figure', 'limit (this run)', 'subject', 'share', 'which binds'],
    ...list.map((l) => [l.figure, l.limit, l.subject, l.share.toLocaleString('en-US'), l.note]),
  ];
}

/** Incremental runs count as proportional while a touched window costs at most this many full-run windows. */
export const PROPORTIONAL_TOLERANCE = 1.5;

export function ratios(
  r: Pick<BenchResults, 'ingest' | 'e2e' | 'aggregation' | 'memory' | 'api' | 'kafka' | 'mqtt'>,
): Ratio[] {
  const out: Ratio[] = [];
  if (r.api) out.push(...apiRatios(r.api));
  if (r.kafka)
    out.push({
      name: 'kafka: bridge ÷ direct PutRecords',
      value: r.kafka.ratio,
      target: '>= 0.5',
      met: r.kafka.ratio >= 0.5,
    });
  if (r.ingest)
    out.push({ name: 'ingest: handler ÷ COPY', value: r.ingest.ratio, target: '>= 0.85', met: r.ingest.ratio >= 0.85 });
  if (r.e2e) {
    out.push({ name: 'e2e: saturation ÷ drain', value: r.e2e.ratio, target: '>= 0.7', met: r.e2e.ratio >= 0.7 });
    const p99 = r.e2e.fixedLoad.latencyMs.p99;
    out.push({
      name: `e2e: p99 at ${r.e2e.fixedLoad.offeredPerSecond}/s (ms)`,
      value: p99,
      target: `<= ${r.e2e.fixedLoad.p99TargetMs}`,
      met: Number.isFinite(p99) ? p99 <= r.e2e.fixedLoad.p99TargetMs : null,
    });
  }
  if (r.aggregation) {
    out.push({
      name: 'aggregation: full ÷ bare GROUP BY',
      value: r.aggregation.ratio,
      target: '<= 1.2',
      met: r.aggregation.ratio <= 1.2,
    });
    const last = r.aggregation.incremental[r.aggregation.incremental.length - 1];
    if (last) {
      out.push({
        name: `aggregation: incremental per-window cost ÷ full's (${last.lateReadings} late)`,
        value: last.perWindowCostVsFull,
        target: `<= ${PROPORTIONAL_TOLERANCE} (proportional)`,
        met: last.perWindowCostVsFull <= PROPORTIONAL_TOLERANCE,
      });
    }
  }
  if (r.memory) {
    out.push({
      name: `memory: validator peak RSS, ${r.memory.batchRecords} records (MB)`,
      value: r.memory.maxRssPeakMb,
      target: '<= 256',
      met: r.memory.maxRssPeakMb <= 256,
    });
  }
  if (r.mqtt)
    out.push({
      name: `mqtt: ingress with ${r.mqtt.devices} devices ÷ direct PutRecords`,
      value: r.mqtt.ratio,
      target: '>= 0.5',
      met: r.mqtt.ratio >= 0.5,
    });
  return out;
}

const fmt = (n: number | null | undefined, unit = ''): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : `${n.toLocaleString('en-US')}${unit}`;

const verdict = (met: boolean | null | undefined): string =>
  met === null || met === undefined ? '—' : met ? 'yes' : 'NO';

/** Rows of the terminal table: figure, subject, baseline, ratio, target, verdict. */
export function tableRows(r: BenchResults): string[][] {
  const rows: string[][] = [['figure', 'subject', 'baseline', 'ratio', 'target', 'met']];
  const find = (prefix: string): Ratio | undefined => r.ratios.find((x) => x.name.startsWith(prefix));
  if (r.ingest) {
    const i = r.ingest;
    const ratio = find('ingest');
    rows.push([
      `ingest ${fmt(i.records)} records (${fmt(i.validRows)} valid), batches of ${i.batchSize}`,
      `${fmt(i.subject.recordsPerSecond)} rec/s handler`,
      `${fmt(i.copyBaseline.recordsPerSecondEquivalent)} rec/s COPY`,
      fmt(i.ratio),
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
    rows.push([
      '  same, as valid rows/s',
      `${fmt(i.subject.validRowsPerSecond)} rows/s`,
      `${fmt(i.copyBaseline.rowsPerSecond)} rows/s`,
      fmt(i.ratio),
      '',
      '',
    ]);
    rows.push([
      '  unnest ON CONFLICT (redelivery path)',
      `${fmt(i.unnestBaseline.rowsPerSecond)} rows/s`,
      `${fmt(i.copyBaseline.rowsPerSecond)} rows/s`,
      fmt(Number((i.unnestBaseline.rowsPerSecond / i.copyBaseline.rowsPerSecond).toPrecision(3))),
      'info',
      '',
    ]);
    rows.push([
      `  row-by-row INSERT (${fmt(i.rowByRow.rows)}-row sample)`,
      `${fmt(i.rowByRow.rowsPerSecond)} rows/s`,
      `${fmt(i.copyBaseline.rowsPerSecond)} rows/s`,
      fmt(Number((i.rowByRow.rowsPerSecond / i.copyBaseline.rowsPerSecond).toPrecision(3))),
      'info',
      '',
    ]);
    rows.push([
      '  handler batch duration p50 / p99',
      `${fmt(i.subject.batchMsP50)} / ${fmt(i.subject.batchMsP99)} ms`,
      '',
      '',
      'info',
      '',
    ]);
  }
  if (r.e2e) {
    const e = r.e2e;
    const ratio = find('e2e: saturation');
    const p99 = find('e2e: p99');
    rows.push([
      `e2e saturation, ${fmt(e.saturation.records)} records`,
      `${fmt(e.saturation.throughputPerSecond)} rec/s`,
      `${fmt(e.drain.recordsPerSecond)} rec/s drain`,
      fmt(e.ratio),
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
    const sl = e.saturation.latencyMs;
    rows.push([
      '  saturation latency p50 / p95 / p99',
      `${fmt(sl.p50)} / ${fmt(sl.p95)} / ${fmt(sl.p99)} ms`,
      '',
      '',
      'info',
      '',
    ]);
    const fl = e.fixedLoad.latencyMs;
    rows.push([
      `e2e ${fmt(e.fixedLoad.offeredPerSecond)}/s: latency p50 / p95 / p99`,
      `${fmt(fl.p50)} / ${fmt(fl.p95)} / ${fmt(fl.p99)} ms`,
      `window ${fmt(e.batchingWindowMs)} ms`,
      '',
      p99?.target ?? '',
      verdict(p99?.met),
    ]);
    rows.push([
      `  throughput at ${fmt(e.fixedLoad.offeredPerSecond)}/s offered`,
      `${fmt(e.fixedLoad.throughputPerSecond)} rec/s`,
      `${fmt(e.fixedLoad.putPerSecond)} rec/s put`,
      '',
      'info',
      '',
    ]);
  }
  if (r.aggregation) {
    const a = r.aggregation;
    const ratio = find('aggregation: full');
    rows.push([
      `aggregation full, ${fmt(a.readings)} readings, ${fmt(a.windows)} windows`,
      `${fmt(a.full.msMedian)} ms`,
      `${fmt(a.bare.msMedian)} ms GROUP BY`,
      fmt(a.ratio),
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
    const prop = find('aggregation: incremental');
    for (const [k, inc] of a.incremental.entries()) {
      const last = k === a.incremental.length - 1;
      rows.push([
        `  incremental, ${fmt(inc.lateReadings)} late → ${fmt(inc.windowsTouched)} windows (${fmt(Math.round(inc.windowShare * 1000) / 10)}%)`,
        `${fmt(inc.ms)} ms (${fmt(Math.round(inc.timeShareOfFull * 1000) / 10)}% of full)`,
        `${fmt(a.full.msMedian)} ms full`,
        `${fmt(inc.perWindowCostVsFull)} /window`,
        last ? (prop?.target ?? '') : 'info',
        last ? verdict(prop?.met) : '',
      ]);
    }
  }
  if (r.memory) {
    const m = r.memory;
    const ratio = find('memory');
    rows.push([
      `validator peak RSS, one ${fmt(m.batchRecords)}-record batch`,
      `${fmt(m.maxRssPeakMb)} MB`,
      `${fmt(m.maxRssAfterInitMb)} MB after init`,
      '',
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
  }
  if (r.api) rows.push(...apiRows(r.api, find));
  if (r.mqtt) {
    const q = r.mqtt;
    const ratio = find('mqtt');
    rows.push([
      `mqtt ingress, ${fmt(q.devices)} devices, ${fmt(q.messages)} readings (QoS 1)`,
      `${fmt(q.mqtt.messagesPerSecond)} msg/s to PUBACK`,
      `${fmt(q.direct.recordsPerSecond)} rec/s PutRecords`,
      fmt(q.ratio),
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
    const row = q.fixedLoad.publishToRowMs;
    const ack = q.fixedLoad.publishToAckMs;
    rows.push([
      `  mqtt ${fmt(q.fixedLoad.offeredPerSecond)}/s: publish → row p50 / p99`,
      `${fmt(row.p50)} / ${fmt(row.p99)} ms`,
      `PUBACK ${fmt(ack.p50)} / ${fmt(ack.p99)} ms`,
      '',
      'info',
      '',
    ]);
  }
  for (const f of r.failures) rows.push([`${f.benchmark}: FAILED`, f.message.slice(0, 80), '', '', '', '']);
  if (r.kafka) {
    const k = r.kafka;
    const ratio = find('kafka');
    rows.push([
      `kafka door, ${fmt(k.records)} readings from a topic into the stream`,
      `${fmt(k.subject.recordsPerSecond)} rec/s bridge`,
      `${fmt(k.baseline.recordsPerSecond)} rec/s PutRecords`,
      fmt(k.ratio),
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
    rows.push([
      '  bridge invocations, records per invocation',
      `${fmt(k.subject.invocations)}, ${fmt(k.subject.recordsPerInvocation)}`,
      '',
      '',
      'info',
      '',
    ]);
  }
  return rows;
}

export function renderTable(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
  const line = (row: readonly string[]): string =>
    row
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join(' │ ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(rows[0] ?? []), rule, ...rows.slice(1).map(line)].join('\n');
}

/** The same table as Markdown, for docs/benchmarks.md. */
export function renderMarkdown(rows: readonly string[][]): string {
  const [head, ...body] = rows;
  const line = (row: readonly string[]): string => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head ?? []), line((head ?? []).map(() => '---')), ...body.map(line)].join('\n');
}

function apiRatios(a: ApiResult): Ratio[] {
  const out: Ratio[] = [
    {
      name: 'api: fleet p50, large ÷ small table',
      value: a.fleet.ratio,
      target: '<= 1.1',
      met: a.fleet.ratio <= 1.1,
    },
  ];
  for (const w of a.windows) {
    out.push({
      name: `api: windows ${w.name}, API ÷ bare SQL p50`,
      value: w.ratioP50,
      target: '<= 1.3',
      met: w.ratioP50 <= 1.3,
    });
  }
  return out;
}

function apiRows(a: ApiResult, find: (prefix: string) => Ratio | undefined): string[][] {
  const fleet = find('api: fleet');
  const rows: string[][] = [
    [
      `api fleet, ${fmt(a.fleet.sensors)} sensors: p50 at ${fmt(a.fleet.large.readings)} readings`,
      `${fmt(a.fleet.large.ms.p50)} ms (p99 ${fmt(a.fleet.large.ms.p99)})`,
      `${fmt(a.fleet.small.ms.p50)} ms at ${fmt(a.fleet.small.readings)} (p99 ${fmt(a.fleet.small.ms.p99)})`,
      fmt(a.fleet.ratio),
      fleet?.target ?? '',
      verdict(fleet?.met),
    ],
  ];
  for (const w of a.windows) {
    const ratio = find(`api: windows ${w.name}`);
    rows.push([
      `api windows ${w.name} (${fmt(w.buckets)} buckets): p50 / p99`,
      `${fmt(w.api.p50)} / ${fmt(w.api.p99)} ms`,
      `${fmt(w.sql.p50)} / ${fmt(w.sql.p99)} ms SQL`,
      `${fmt(w.ratioP50)} / ${fmt(w.ratioP99)}`,
      ratio?.target ?? '',
      verdict(ratio?.met),
    ]);
  }
  const p = a.pollers;
  rows.push([
    `api ${fmt(p.clients)} pollers, ${fmt(p.seconds)} s: throughput, p99`,
    `${fmt(p.perSecond)} req/s, p99 ${fmt(p.p99Ms)} ms`,
    `${fmt(p.notModified)} × 304 of ${fmt(p.requests)}`,
    `${fmt(p.errors)} errors`,
    '= 0 errors',
    verdict(p.errors === 0),
  ]);
  rows.push([
    '  write path: COPY with ÷ without latest-state trigger',
    `${fmt(a.writePath.withTriggerMs)} ms/batch`,
    `${fmt(a.writePath.withoutTriggerMs)} ms/batch`,
    fmt(a.writePath.ratio),
    'info',
    '',
  ]);
  rows.push([
    '  aggregator with ÷ without reading alerts',
    `${fmt(a.alerts.withAlertsMs)} ms`,
    `${fmt(a.alerts.withoutAlertsMs)} ms`,
    fmt(a.alerts.ratio),
    'info',
    '',
  ]);
  return rows;
}
