/**
 * Diagnostic probe (not part of `npm run bench`): CPU cost of encoding a batch for COPY, the
 * store's current encoder (src/adapters/postgres/pipeline-store.ts's copyText, re-exported by bench/records.ts)
 * against a prototype that escapes only the free-text columns and builds each line with one
 * template string (no per-row arrays, no map/join, no regex on UUIDs, enums, numbers,
 * timestamps or stream positions, which cannot contain a tab, newline or backslash).
 *
 * Usage: npx tsx bench/probes/copy-encoding.ts [records]
 */
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import type { ReadingRow } from '#domain/reading.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { topology } from '#topology.js';
import { median } from '../common.js';
import { copyText, kinesisEvents, type RecordSetSpec, recordSet, VALIDATOR_BATCH_SIZE } from '../records.js';

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const NEEDS_ESCAPE = /[\\\n\r\t]/;
const text = (s: string): string => (NEEDS_ESCAPE.test(s) ? s.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c] as string) : s);

/** Prototype: same bytes as copyText, columns in READING_COLUMNS order. */
export function copyTextFast(rows: readonly ReadingRow[]): string {
  let out = '';
  for (const r of rows) {
    const p = r.position;
    out += `${r.readingId ?? '\\N'}\t${text(r.sensorId)}\t${r.sensorType}\t${r.value}\t${text(r.unit)}\t${text(r.manufacturer)}\t${text(r.model)}\t${r.min}\t${r.max}\t${text(r.status)}\t${text(r.eventTime)}\t${r.normalizedValue}\t${r.highAlert ? 't' : 'f'}\t${r.lowAlert ? 't' : 'f'}\t${r.processingTime.toISOString()}\t${text(p.streamName)}\t${text(p.shardId)}\t${text(p.sequenceNumber)}\t${text(p.partitionKey)}\t${p.arrivalTime.toISOString()}\n`;
  }
  return out;
}

const records = Number(process.argv[2] ?? 50_000);
const spec: RecordSetSpec = { count: records, seed: 12, sensors: 1_000, positionOffset: 0 };
const now = new Date();
const batches = kinesisEvents(recordSet(spec), spec, VALIDATOR_BATCH_SIZE).map(
  (e) => classifyBatch(e.Records.map(toPositionedRecord), { payloadCapBytes: topology.payloadCapBytes, now }).rows,
);
for (const rows of batches) if (copyText(rows) !== copyTextFast(rows)) throw new Error('encoders disagree');
const rowsTotal = batches.reduce((n, b) => n + b.length, 0);
const times = { current: [] as number[], fast: [] as number[] };
for (let round = 0; round < 7; round++) {
  for (const [key, encode] of (round % 2 === 0
    ? [
        ['current', copyText],
        ['fast', copyTextFast],
      ]
    : [
        ['fast', copyTextFast],
        ['current', copyText],
      ]) as Array<['current' | 'fast', (r: readonly ReadingRow[]) => string]>) {
    const t = performance.now();
    for (const rows of batches) encode(rows);
    if (round > 0) times[key].push(performance.now() - t);
  }
}
for (const [key, ts] of Object.entries(times)) {
  console.log(
    `${key.padEnd(8)} ${median(ts).toFixed(1)} ms for ${rowsTotal} rows  (${Math.round((rowsTotal / median(ts)) * 1000).toLocaleString('en-US')} rows/s, one core)`,
  );
}
process.exit(0);
