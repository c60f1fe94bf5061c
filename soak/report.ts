/**
 * The soak report: the whole JSON, and a Markdown summary for people (the figures the issue asks
 * for: acknowledged, lost, duplicated; faults injected and healed; memory growth per process;
 * latency outside faults), both in bench/results/ (not committed, as the benchmarks' results).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SoakReport } from './run.js';

const n = (v: number) => v.toLocaleString('en-US');

export function markdown(r: SoakReport): string {
  const v = r.verdict;
  const o = r.options;
  const lines = [
    `# Soak run ${r.startedAt}`,
    '',
    `${o.minutes} min at ${o.rate} readings/s, seed ${o.seed}, ${o.faults.length > 0 ? `chaos (${o.faults.join(', ')})` : 'no chaos'}, doors: producer, MQTT${o.kafka ? ', Kafka' : ''}, hostile records when scheduled.`,
    `Warm-up (until the pipeline had caught up with its cold start; faults start after it): ${r.warmUpSeconds === undefined ? 'never caught up' : `${r.warmUpSeconds} s`}. Fed for ${r.feedSeconds} s, settled ${r.settleSeconds} s after.`,
    `Load average (1/5/15 min) before ${r.loadAverage.before.map((x) => x.toFixed(1)).join(' / ')}, after ${r.loadAverage.after.map((x) => x.toFixed(1)).join(' / ')}; 2 cores shared with other work.`,
    '',
    `**Verdict: ${r.ok ? 'clean' : 'NOT CLEAN'}** (lost ${v.totals.lost}, duplicated ${v.totals.duplicated}, wrong outcome ${v.totals.wrongOutcome}, unacknowledged but duplicated ${v.totals.unackedDuplicated}, window mismatches ${v.windows.mismatched}, unaccounted DLQ messages ${v.deadLetters.reduce((a, q) => a + q.unaccounted, 0)}, faults that did not happen ${r.faults.filter((f) => !f.happened).length}, graceful stop ${r.stop.graceful ? `yes (${(r.stop.ms / 1000).toFixed(1)} s)` : 'NO'}, stack crashes ${r.stackCrashes.length}).`,
    '',
    '| door | sent | acknowledged | lost | duplicated | wrong outcome | unacked, landed once | unacked, duplicated |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...Object.entries({ ...v.doors, total: v.totals }).map(
      ([d, c]) =>
        `| ${d} | ${n(c.sent)} | ${n(c.acked)} | ${c.lost} | ${c.duplicated} | ${c.wrongOutcome} | ${c.unackedLanded} | ${c.unackedDuplicated} |`,
    ),
    '',
    `Rows: ${n(v.rows.readings)} readings, ${n(v.rows.errors)} errors (${v.rows.processingFailures} PROCESSING_FAILURE, ${v.rows.unknownIds} without a known id). Windows: ${n(v.windows.reference)} in the reference, ${n(v.windows.stored)} stored, ${v.windows.mismatched} mismatched. DLQs: ${v.deadLetters.map((q) => `${q.queue} ${q.messages} (${q.unaccounted} unaccounted)`).join(', ')}.`,
    '',
    '| fault | at (s) | happened | healed after (s, from its start) | heal threshold (ms) | detail |',
    '| --- | ---: | --- | ---: | ---: | --- |',
    ...r.faults.map(
      (f) =>
        `| ${f.name} | ${Math.round((f.startedAt - Date.parse(r.startedAt)) / 1000)} | ${f.happened ? 'yes' : 'NO'} | ${f.healMs === undefined ? 'not healed' : (f.healMs / 1000).toFixed(1)} | ${f.healThresholdMs ?? ''} | ${f.detail} |`,
    ),
    '',
    `Latency, send to row (readings): outside faults p50 ${v.latency.outsideFaults.p50} ms, p95 ${v.latency.outsideFaults.p95} ms, p99 ${v.latency.outsideFaults.p99} ms (${n(v.latency.outsideFaults.samples)} readings); all readings p99 ${v.latency.all.p99} ms, max ${v.latency.all.max} ms. Healed = readings sent in one second all landed within ${v.latency.targetMs} ms (or 1.5 × the p99 of the 30 s before the fault, when that was higher).`,
    '',
    '| door (outside faults) | readings | send → acknowledged p50 / p99 (ms) | send → row p50 / p95 / p99 (ms) |',
    '| --- | ---: | ---: | ---: |',
    ...Object.entries(v.latency.byDoor).map(
      ([d, l]) =>
        `| ${d} | ${n(l.sendToRow.samples)} | ${l.sendToAck.p50} / ${l.sendToAck.p99} | ${l.sendToRow.p50} / ${l.sendToRow.p95} / ${l.sendToRow.p99} |`,
    ),
    '',
    '| process group | RSS after warm-up (MB) | at the end | peak | growth |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.entries(r.memory).map(([g, m]) => `| ${g} | ${m.firstMb} | ${m.lastMb} | ${m.peakMb} | ${m.growthMb} |`),
    '',
  ];
  if (v.examples.lost.length + v.examples.duplicated.length + v.examples.wrongOutcome.length > 0)
    lines.push('Examples:', '', '```', JSON.stringify(v.examples, null, 2), '```', '');
  return lines.join('\n');
}

/** Writes `soak-<time>.json` and `.md` into `dir`; returns their paths. */
export function writeReport(r: SoakReport, dir: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `soak-${r.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown(r));
  return { json: `${base}.json`, md: `${base}.md` };
}
