/**
 * PostgreSQL implementation of the {@link PipelineStore} port: batched, idempotent writes of
 * readings and rejections.
 *
 * Readings take a fast path and a safe path:
 * - fast: one `COPY` of the whole batch (the cheapest way into PostgreSQL);
 * - safe: when the batch holds a row already stored (a redelivery), COPY fails as a whole on
 *   the unique key and the batch is written again with `INSERT … SELECT FROM unnest(…) ON
 *   CONFLICT DO NOTHING`, which skips exactly the rows already there.
 * First deliveries, the common case, pay for COPY only. Both are single statements, so the
 * dirty-window trigger sees every row of the batch in its transition table.
 *
 * A row PostgreSQL refuses for its content (a constraint or a data exception the validator
 * did not foresee) must not fail its neighbours: the batch is then retried row by row inside
 * savepoints and the refused rows are returned to the caller, who routes them to the DLQ.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { readableText } from '#domain/error-record.js';
import type { ErrorWriteResult, PipelineStore, ReadingWriteResult, RefusedReading } from '#domain/ports.js';
import type { ErrorRecord, ReadingRow } from '#domain/reading.js';

/** sensor_readings' columns in the order the store writes them (COPY and unnest). */
export const READING_COLUMNS = [
  'reading_id',
  'sensor_id',
  'sensor_type',
  'value',
  'unit',
  'manufacturer',
  'model',
  'min',
  'max',
  'status',
  'event_time',
  'normalized_value',
  'high_alert',
  'low_alert',
  'processing_time',
  'stream_name',
  'shard_id',
  'sequence_number',
  'partition_key',
  'arrival_time',
] as const;

/** PostgreSQL array types of READING_COLUMNS, in the same order, for the unnest path. */
const READING_ARRAY_TYPES = [
  'uuid',
  'text',
  'text',
  'float8',
  'text',
  'text',
  'text',
  'float8',
  'float8',
  'text',
  'timestamptz',
  'float8',
  'bool',
  'bool',
  'timestamptz',
  'text',
  'text',
  'text',
  'text',
  'timestamptz',
] as const;

const ERROR_COLUMNS = [
  'error_type',
  'error_message',
  'raw_value',
  'raw_bytes',
  'raw_size',
  'sensor_id',
  'reading_id',
  'stream_name',
  'shard_id',
  'sequence_number',
  'partition_key',
  'arrival_time',
  'error_time',
] as const;

const ERROR_ARRAY_TYPES = [
  'text',
  'text',
  'text',
  'bytea',
  'int4',
  'text',
  'uuid',
  'text',
  'text',
  'text',
  'text',
  'timestamptz',
  'timestamptz',
] as const;

export type Cell = string | number | boolean | Date | Buffer | null;

function unnestInsertSql(table: string, columns: readonly string[], types: readonly string[]): string {
  const arrays = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  return `INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${arrays}) ON CONFLICT DO NOTHING`;
}

function singleInsertSql(table: string, columns: readonly string[], types: readonly string[]): string {
  const values = types.map((t, i) => `$${i + 1}::${t}`).join(', ');
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${values}) ON CONFLICT DO NOTHING`;
}

/** The store's batched and row-by-row reading inserts (the benchmark's baselines use them too). */
export const INSERT_READINGS = unnestInsertSql('sensor_readings', READING_COLUMNS, READING_ARRAY_TYPES);
export const INSERT_ONE_READING = singleInsertSql('sensor_readings', READING_COLUMNS, READING_ARRAY_TYPES);
const INSERT_ERRORS = unnestInsertSql('sensor_errors', ERROR_COLUMNS, ERROR_ARRAY_TYPES);
const INSERT_ONE_ERROR = singleInsertSql('sensor_errors', ERROR_COLUMNS, ERROR_ARRAY_TYPES);
const COPY_READINGS = `COPY sensor_readings (${READING_COLUMNS.join(', ')}) FROM STDIN`;

export function readingCells(r: ReadingRow): Cell[] {
  const p = r.position;
  return [
    r.readingId,
    r.sensorId,
    r.sensorType,
    r.value,
    r.unit,
    r.manufacturer,
    r.model,
    r.min,
    r.max,
    r.status,
    r.eventTime,
    r.normalizedValue,
    r.highAlert,
    r.lowAlert,
    r.processingTime,
    p.streamName,
    p.shardId,
    p.sequenceNumber,
    p.partitionKey,
    p.arrivalTime,
  ];
}

function errorCells(e: ErrorRecord): Cell[] {
  const p = e.position;
  const raw = Buffer.from(e.rawBytes.buffer, e.rawBytes.byteOffset, e.rawBytes.byteLength);
  return [
    e.errorType,
    e.errorMessage,
    readableText(e.rawBytes),
    raw,
    e.rawSize,
    e.sensorId,
    e.readingId,
    p.streamName,
    p.shardId,
    p.sequenceNumber,
    p.partitionKey,
    p.arrivalTime,
    e.errorTime,
  ];
}

/** Column-major arrays for `unnest`, one array per column. */
export function columns(rows: readonly Cell[][], width: number): Cell[][] {
  const out: Cell[][] = Array.from({ length: width }, () => new Array<Cell>(rows.length));
  rows.forEach((row, r) => {
    row.forEach((cell, c) => {
      (out[c] as Cell[])[r] = cell;
    });
  });
  return out;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One field in COPY's text format. Strings are storable (the validator rejects NULs). */
function copyField(cell: Cell): string {
  if (cell === null) return '\\N';
  if (typeof cell === 'string') return cell.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c] as string);
  if (typeof cell === 'boolean') return cell ? 't' : 'f';
  if (cell instanceof Date) return cell.toISOString();
  return String(cell);
}

/** The rows in COPY's text format, as the store sends them (the benchmark's COPY baseline uses it too). */
export function copyText(rows: readonly ReadingRow[]): string {
  let out = '';
  for (const row of rows) out += `${readingCells(row).map(copyField).join('\t')}\n`;
  return out;
}

function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Content errors: data exceptions (22), integrity violations (23) other than duplicates, and
 * program limits a row's content can hit (54, e.g. an index row too large).
 */
function isContentError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && state !== UNIQUE_VIOLATION && /^(22|23|54)/.test(state);
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PostgresPipelineStore implements PipelineStore {
  constructor(private readonly pool: pg.Pool) {}

  async insertReadings(rows: readonly ReadingRow[]): Promise<ReadingWriteResult> {
    if (rows.length === 0) return { inserted: 0, duplicates: 0, refused: [] };
    const client = await this.pool.connect();
    try {
      let inserted: number;
      try {
        inserted = await this.copyReadings(client, rows);
      } catch (copyError) {
        if (isContentError(copyError)) return await this.insertRowByRow(client, rows);
        if (sqlState(copyError) !== UNIQUE_VIOLATION) throw copyError;
        try {
          inserted = await this.insertReadingsSkippingDuplicates(client, rows);
        } catch (insertError) {
          if (!isContentError(insertError)) throw insertError;
          return await this.insertRowByRow(client, rows);
        }
      }
      return { inserted, duplicates: rows.length - inserted, refused: [] };
    } finally {
      client.release();
    }
  }

  async insertErrors(errors: readonly ErrorRecord[]): Promise<ErrorWriteResult> {
    if (errors.length === 0) return { inserted: 0, duplicates: 0, refused: [] };
    try {
      const result = await this.pool.query(INSERT_ERRORS, columns(errors.map(errorCells), ERROR_COLUMNS.length));
      const inserted = result.rowCount ?? 0;
      return { inserted, duplicates: errors.length - inserted, refused: [] };
    } catch (error) {
      if (!isContentError(error)) throw error;
    }
    const client = await this.pool.connect();
    try {
      const outcome = await inSavepoints(client, errors, (e) => client.query(INSERT_ONE_ERROR, errorCells(e)));
      return {
        inserted: outcome.inserted,
        duplicates: errors.length - outcome.inserted - outcome.refused.length,
        refused: outcome.refused.map(({ index, reason }) => ({ index, reason })),
      };
    } finally {
      client.release();
    }
  }

  private async copyReadings(client: pg.PoolClient, rows: readonly ReadingRow[]): Promise<number> {
    const stream = client.query(copyStreams.from(COPY_READINGS));
    await pipeline(Readable.from([copyText(rows)]), stream);
    return stream.rowCount ?? rows.length;
  }

  private async insertReadingsSkippingDuplicates(client: pg.PoolClient, rows: readonly ReadingRow[]): Promise<number> {
    const result = await client.query(INSERT_READINGS, columns(rows.map(readingCells), READING_COLUMNS.length));
    return result.rowCount ?? 0;
  }

  private async insertRowByRow(client: pg.PoolClient, rows: readonly ReadingRow[]): Promise<ReadingWriteResult> {
    const outcome = await inSavepoints(client, rows, (r) => client.query(INSERT_ONE_READING, readingCells(r)));
    const refused: RefusedReading[] = outcome.refused.map(({ index, reason }) => ({
      row: rows[index] as ReadingRow,
      reason,
    }));
    return { inserted: outcome.inserted, duplicates: rows.length - outcome.inserted - refused.length, refused };
  }
}

/**
 * Inserts items one by one in a single transaction, each inside a savepoint, so a refused item
 * rolls back alone. Only for the rare batch that holds content PostgreSQL refuses.
 */
async function inSavepoints<T>(
  client: pg.PoolClient,
  items: readonly T[],
  insert: (item: T) => Promise<pg.QueryResult>,
): Promise<{ inserted: number; refused: { index: number; reason: string }[] }> {
  let inserted = 0;
  const refused: { index: number; reason: string }[] = [];
  await client.query('BEGIN');
  try {
    for (const [index, item] of items.entries()) {
      await client.query('SAVEPOINT row_insert');
      try {
        inserted += (await insert(item)).rowCount ?? 0;
        await client.query('RELEASE SAVEPOINT row_insert');
      } catch (error) {
        if (!isContentError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT row_insert');
        refused.push({ index, reason: reasonOf(error) });
      }
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return { inserted, refused };
}
