/**
 * PostgreSQL implementation of the {@link PipelineStore} port: batched, idempotent writes of
 * readings and rejections.
 *
 * Readings take a fast path and a safe path:
 * - fast: one `COPY` of the whole batch (the cheapest way into PostgreSQL), opened on the
 *   first row and fed chunk by chunk as the caller classifies them ({@link ReadingsWrite}), so
 *   the caller's CPU work overlaps the server's parsing and indexing of the previous chunk;
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
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { readableText } from '#domain/error-record.js';
import type {
  ErrorWriteResult,
  PipelineStore,
  ReadingsWrite,
  ReadingWriteResult,
  RefusedReading,
} from '#domain/ports.js';
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
const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPED = /[\\\n\r\t]/g;

/**
 * A string field in COPY's text format. Strings are storable (the validator rejects NULs);
 * almost none hold a character to escape, so one test skips the replace for them.
 */
function copyString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, (c) => COPY_ESCAPES[c] as string) : s;
}

/**
 * One row in COPY's text format, columns in READING_COLUMNS order. One template per row, no
 * per-row arrays: this runs for every reading on the validator's critical path. Numbers print
 * as String() prints them, booleans as t/f, dates in ISO-8601 UTC; test/unit/copy-encoding
 * proves the bytes equal the cell-by-cell encoding of readingCells.
 */
function copyLine(r: ReadingRow): string {
  const p = r.position;
  const id = r.readingId === null ? '\\N' : copyString(r.readingId);
  return `${id}\t${copyString(r.sensorId)}\t${r.sensorType}\t${r.value}\t${copyString(r.unit)}\t${copyString(r.manufacturer)}\t${copyString(r.model)}\t${r.min}\t${r.max}\t${copyString(r.status)}\t${copyString(r.eventTime)}\t${r.normalizedValue}\t${r.highAlert ? 't' : 'f'}\t${r.lowAlert ? 't' : 'f'}\t${r.processingTime.toISOString()}\t${copyString(p.streamName)}\t${copyString(p.shardId)}\t${copyString(p.sequenceNumber)}\t${copyString(p.partitionKey)}\t${p.arrivalTime.toISOString()}\n`;
}

/** The rows in COPY's text format, as the store sends them (the benchmark's COPY baseline uses it too). */
export function copyText(rows: readonly ReadingRow[]): string {
  let out = '';
  for (const row of rows) out += copyLine(row);
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
    const write = this.openReadings();
    write.write(rows);
    return write.end();
  }

  openReadings(): ReadingsWrite {
    return new StreamedReadingsWrite(this.pool);
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
}

/**
 * The readings of one write: a COPY opened on the first row and fed as rows come, then, only if
 * it failed, the same rows again by the safe path on the same connection. The rows are kept
 * until the end for that second path (a COPY fails as a whole).
 */
class StreamedReadingsWrite implements ReadingsWrite {
  private readonly rows: ReadingRow[] = [];
  private feed: CopyFeed | undefined;
  private ended = false;

  constructor(private readonly pool: pg.Pool) {}

  write(rows: readonly ReadingRow[]): void {
    if (this.ended) throw new Error('readings written after the write ended');
    if (rows.length === 0) return;
    for (const row of rows) this.rows.push(row);
    this.feed ??= new CopyFeed(this.pool);
    // Once the COPY has failed the rows only wait for the safe path: no point encoding them.
    if (!this.feed.failed) this.feed.send(copyText(rows));
  }

  async end(): Promise<ReadingWriteResult> {
    this.ended = true;
    const { feed, rows } = this;
    if (!feed) return { inserted: 0, duplicates: 0, refused: [] };
    const outcome = await feed.end();
    if (!outcome.client) throw outcome.error; // no connection: nothing was written
    try {
      if (outcome.error !== undefined) return await afterFailedCopy(outcome.client, rows, outcome.error);
      const inserted = outcome.rowCount ?? rows.length;
      return { inserted, duplicates: rows.length - inserted, refused: [] };
    } finally {
      feed.release();
    }
  }
}

/** How a COPY ended: its row count, or the error that ended it (and the connection, if one was taken). */
interface FeedOutcome {
  readonly client: pg.PoolClient | undefined;
  readonly rowCount?: number;
  readonly error?: unknown;
}

/**
 * One `COPY … FROM STDIN` on a pooled connection, fed text as it comes. At most one write is
 * in flight: pg-copy-streams touches the connection in its write callbacks and drops it when
 * the server reports an error, so nothing is handed to it once the COPY has failed, and the
 * text that arrives meanwhile goes out in one write when the previous one is through.
 */
class CopyFeed {
  failed = false;
  private stream: ReturnType<typeof copyStreams.from> | undefined;
  private client: pg.PoolClient | undefined;
  private pending = '';
  private inFlight = false;
  private ending = false;
  private finished = false;
  private connectionError: unknown;
  private readonly onConnectionError = (error: unknown): void => {
    this.connectionError = error;
    this.fail(error);
  };
  private settle: (outcome: FeedOutcome) => void = () => undefined;
  private readonly outcome = new Promise<FeedOutcome>((resolve) => {
    this.settle = resolve;
  });

  constructor(pool: pg.Pool) {
    pool
      .connect()
      .then((client) => this.start(client))
      .catch((error: unknown) => this.fail(error));
  }

  send(text: string): void {
    this.pending += text;
    this.pump();
  }

  /** Sends the end of the data once the text is through; resolves when the server has committed or refused it. */
  end(): Promise<FeedOutcome> {
    this.ending = true;
    this.pump();
    return this.outcome;
  }

  /** Gives the connection back to the pool; one that broke is closed instead of reused. */
  release(): void {
    const client = this.client;
    if (!client) return;
    client.off('error', this.onConnectionError);
    client.release(this.connectionError instanceof Error ? this.connectionError : undefined);
  }

  private start(client: pg.PoolClient): void {
    this.client = client;
    // A connection lost while checked out is reported on the client; without a listener that
    // report would be an uncaught exception that takes the whole container down.
    client.on('error', this.onConnectionError);
    const stream = client.query(copyStreams.from(COPY_READINGS));
    stream.on('error', (error: unknown) => this.fail(error));
    // 'finish' comes after ReadyForQuery: the rows are committed (the COPY runs in autocommit).
    stream.on('finish', () => this.settle({ client, rowCount: stream.rowCount }));
    this.stream = stream;
    this.pump();
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.settle({ client: this.client, error });
  }

  private pump(): void {
    const stream = this.stream;
    if (!stream || this.inFlight || this.failed || this.finished) return;
    if (this.pending.length > 0) {
      const text = this.pending;
      this.pending = '';
      this.inFlight = true;
      stream.write(text, () => {
        this.inFlight = false;
        this.pump();
      });
    } else if (this.ending) {
      this.finished = true;
      stream.end();
    }
  }
}

/**
 * After a failed COPY, on its connection: a duplicate key means a redelivery, so the rows go
 * again by `unnest … ON CONFLICT DO NOTHING`; content the server refuses sends them row by row
 * so only the refused ones are left out; anything else is an infrastructure failure.
 */
async function afterFailedCopy(
  client: pg.PoolClient,
  rows: readonly ReadingRow[],
  copyError: unknown,
): Promise<ReadingWriteResult> {
  if (isContentError(copyError)) return await insertRowByRow(client, rows);
  if (sqlState(copyError) !== UNIQUE_VIOLATION) throw copyError;
  try {
    const result = await client.query(INSERT_READINGS, columns(rows.map(readingCells), READING_COLUMNS.length));
    const inserted = result.rowCount ?? 0;
    return { inserted, duplicates: rows.length - inserted, refused: [] };
  } catch (insertError) {
    if (!isContentError(insertError)) throw insertError;
    return await insertRowByRow(client, rows);
  }
}

async function insertRowByRow(client: pg.PoolClient, rows: readonly ReadingRow[]): Promise<ReadingWriteResult> {
  const outcome = await inSavepoints(client, rows, (r) => client.query(INSERT_ONE_READING, readingCells(r)));
  const refused: RefusedReading[] = outcome.refused.map(({ index, reason }) => ({
    row: rows[index] as ReadingRow,
    reason,
  }));
  return { inserted: outcome.inserted, duplicates: rows.length - outcome.inserted - refused.length, refused };
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
