/**
 * Diagnostic probe (not part of `npm run bench`): CPU cost of encoding a batch for COPY, the
 * store's encoder (src/adapters/postgres/pipeline-store.ts's copyText: one template per row,
 * escaping only strings that hold a character to escape) against the plain cell-by-cell
 * encoding it replaced (readingCells → field → join), byte-identical output
 * (test/unit/copy-encoding.test.ts proves it on the producer's records and on hostile strings).
 *
 * Usage: npx tsx bench/probes/copy-encoding.ts [records]
 */
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import type { ReadingRow } from '#domain/reading.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { topology } from '#topology.js';
import { median } from '../common.js';
import {
  type Cell,
  copyText,
  kinesisEvents,
  type RecordSetSpec,
  readingCells,
  recordSet,
  VALIDATOR_BATCH_SIZE,
} from '../records.js';

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function plainField(cell: Cell): string {
  if (cell === null) return '\\N';
  if (typeof cell === 'string') return cell.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c] as string);
  if (typeof cell === 'boolean') return cell ? 't' : 'f';
  if (cell instanceof Date) return cell.toISOString();
  return String(cell);
}

/** The encoder before the change: every cell of every row through the generic field encoder. */
function copyTextPlain(rows: readonly ReadingRow[]): string {
  let out = '';
  for (const row of rows) out += `${readingCells(row).map(plainField).join('\t')}\n`;
  return out;
}

const records = Number(process.argv[2] ?? 50_000);
const spec: RecordSetSpec = { count: records, seed: 12, sensors: 1_000, positionOffset: 0 };
const now = new Date();
const batches = kinesisEvents(recordSet(spec), spec, VALIDATOR_BATCH_SIZE).map(
  (e) => classifyBatch(e.Records.map(toPositionedRecord), { payloadCapBytes: topology.payloadCapBytes, now }).rows,
);
for (const rows of batches) if (copyText(rows) !== copyTextPlain(rows)) throw new Error('encoders disagree');
const rowsTotal = batches.reduce((n, b) => n + b.length, 0);
const times = { plain: [] as number[], store: [] as number[] };
for (let round = 0; round < 7; round++) {
  for (const [key, encode] of (round % 2 === 0
    ? [
        ['plain', copyTextPlain],
        ['store', copyText],
      ]
    : [
        ['store', copyText],
        ['plain', copyTextPlain],
      ]) as Array<['plain' | 'store', (r: readonly ReadingRow[]) => string]>) {
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
