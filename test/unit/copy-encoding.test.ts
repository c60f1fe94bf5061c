/**
 * The store's COPY encoder (one template per row, escaping only where a string holds a
 * character to escape) must send exactly the bytes of the plain cell-by-cell encoding of
 * COPY's text format: every column of `readingCells`, each escaped, joined by tabs. The
 * reference below is that plain encoding, written from PostgreSQL's rules for the text format
 * (backslash, newline, carriage return and tab escaped; `\N` for NULL; booleans t/f), not
 * from the store's code.
 */
import { describe, expect, it } from 'vitest';
import { copyText, readingCells } from '#adapters/postgres/pipeline-store.js';
import { simulate } from '#domain/fleet.js';
import { DEFAULT_PAYLOAD_CAP_BYTES, type ReadingRow } from '#domain/reading.js';
import { classifyRecord } from '#domain/validation.js';
import { aPosition, aReading, encode } from '../support/factories.js';

/** PostgreSQL's COPY text format, field by field, for the cells the store writes. */
function referenceField(cell: ReturnType<typeof readingCells>[number]): string {
  if (cell === null) return '\\N';
  if (typeof cell === 'boolean') return cell ? 't' : 'f';
  if (cell instanceof Date) return cell.toISOString();
  if (typeof cell === 'number') return String(cell);
  if (typeof cell !== 'string') throw new Error('no binary cells in sensor_readings');
  let out = '';
  for (const c of cell) {
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else out += c;
  }
  return out;
}

const reference = (rows: readonly ReadingRow[]): string =>
  rows.map((row) => `${readingCells(row).map(referenceField).join('\t')}\n`).join('');

const now = new Date('2026-11-30T02:00:00.123Z');

function rowOf(payload: unknown, partitionKey = 'pk'): ReadingRow {
  const result = classifyRecord(encode(payload), aPosition({ partitionKey }), {
    payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES,
    now,
  });
  if (result.kind !== 'reading') throw new Error(`not a reading: ${result.error.errorMessage}`);
  return result.row;
}

describe('COPY text encoding', () => {
  it("is byte-identical to the plain encoding for the producer's own records", () => {
    const { records } = simulate({ count: 3_000, sensors: 200, seed: 7, startTime: now, intervalMs: 1_000 });
    const rows: ReadingRow[] = [];
    for (const r of records) {
      const result = classifyRecord(r.data, aPosition({ partitionKey: r.partitionKey }), {
        payloadCapBytes: DEFAULT_PAYLOAD_CAP_BYTES,
        now,
      });
      if (result.kind === 'reading') rows.push(result.row);
    }
    expect(rows.length).toBeGreaterThan(1_500);
    expect(copyText(rows)).toBe(reference(rows));
  });

  it('escapes backslash, newline, carriage return and tab in every string column, as the plain encoding does', () => {
    const nasty = 'a\\b\tc\nd\re\\\\\t';
    const base = rowOf(aReading());
    // Rows built directly, so columns the validator keeps clean (status, event time, stream
    // position) are tested too: the store must not rely on its caller for COPY's escaping.
    const rows: ReadingRow[] = [
      {
        ...base,
        readingId: `id${nasty}`,
        sensorId: `s-${nasty}`,
        unit: nasty,
        manufacturer: nasty,
        model: nasty,
        status: `status ${nasty}`,
        eventTime: `t${nasty}`,
        position: { ...base.position, streamName: nasty, shardId: nasty, sequenceNumber: nasty, partitionKey: nasty },
      },
      // One escapable character alone in a field, each kind once.
      {
        ...base,
        readingId: null,
        sensorId: 'ünïcødé-✓',
        unit: 'cr\ronly',
        manufacturer: '\\',
        model: '\t',
        status: '\n',
      },
      rowOf(aReading({ reading_id: null, sensor_id: 'tab\tin\tid', manufacturer: 'back\\slash' }), 'tab\tkey'),
    ];
    expect(rows[2]?.readingId).toBeNull();
    const text = copyText(rows);
    expect(text).toBe(reference(rows));
    // Every row is one line of 20 fields: nothing unescaped split a row or a field.
    for (const line of text.trimEnd().split('\n')) expect(line.split('\t')).toHaveLength(20);
  });

  it('prints numbers, booleans, timestamps and NULL as the plain encoding does', () => {
    const rows = [
      rowOf(aReading({ value: 1e-7, min: -1e21, max: 1e21, timestamp: '2026-11-30T01:59:59.123456+05:30' })),
      rowOf(aReading({ value: -0, min: -40, max: 85 })),
      rowOf(aReading({ value: 85, min: -40, max: 85 })),
      rowOf(aReading({ value: 0.1 + 0.2, min: -0.5, max: 123456789.12345679 })),
    ];
    expect(rows.some((r) => r.highAlert)).toBe(true);
    expect(copyText(rows)).toBe(reference(rows));
  });
});
