/**
 * The benchmark's results: one JSON document per run (bench/results/, git-ignored) and a table
 * for the terminal. Every ratio is computed from figures measured in the same run; targets are
 * reported, never asserted (docs/DESIGN.md section 7).
 */
import type { AggregationResult } from './aggregation.js';
import type { E2eResult } from './e2e.js';
import type { IngestResult } from './ingest.js';
import type { MemoryResult } from './memory.js';

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
  readonly ratios: readonly Ratio[];
  readonly failures: readonly { readonly benchmark: string; readonly message: string }[];
}

/** Incremental runs count as proportional while a touched window costs at most this many full-run windows. */
export const PROPORTIONAL_TOLERANCE = 1.5;

export function ratios(r: Pick<BenchResults, 'ingest' | 'e2e' | 'aggregation' | 'memory'>): Ratio[] {
  const out: Ratio[] = [];
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
  return out;
}

const fmt = (n: number | null | undefined, unit = ''): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : `${n.toLocaleString('en-US')}${unit}`;

/** Rows of the terminal table: figure, subject, baseline, ratio, target, verdict. */
export function tableRows(r: BenchResults): string[][] {
  const rows: string[][] = [['figure', 'subject', 'baseline', 'ratio', 'target', 'met']];
  const verdict = (met: boolean | null | undefined): string =>
    met === null || met === undefined ? '—' : met ? 'yes' : 'NO';
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
  for (const f of r.failures) rows.push([`${f.benchmark}: FAILED`, f.message.slice(0, 80), '', '', '', '']);
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
