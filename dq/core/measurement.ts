/** Reading query rows into measurements, with Soda's number rules. */
import { DqEvaluationError } from './errors.js';

/** Rows as arrays of column values, as the adapter returns them (`rowMode: 'array'`). */
export type Rows = readonly (readonly unknown[])[];

/** What a check measured, before thresholds turn it into an outcome. */
export interface Measurement {
  /** The metric value; null only where the semantics allow it (freshness on an empty table). */
  readonly value: number | null;
  readonly diagnostics: Readonly<Record<string, unknown>>;
  /** Soda logs these as warnings (e.g. invalid_count with no validity configuration). */
  readonly warnings?: readonly string[];
}

/** Converts a PostgreSQL value (number, numeric/bigint string) to a finite number. */
export function toNumber(value: unknown, what: string): number {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) {
    const shown = value instanceof Date ? value.toISOString() : JSON.stringify(value);
    throw new DqEvaluationError(`${what} is not a number (got ${shown})`);
  }
  return n;
}

/**
 * Python's `round(x, 2)`, which Soda applies to percentages: correctly rounded from the exact
 * binary value, ties to even. `toFixed` is exact too but breaks ties upwards; an exact tie at two
 * decimals is only possible when x is a multiple of 1/8 (x*8 is then an integer), so only those
 * need the half-even treatment. Example: round(0.125, 2) is 0.12 in Python, 0.13 with toFixed.
 */
export function pythonRound2(x: number): number {
  if (Number.isInteger(x * 8)) {
    const scaled = x * 100; // exact for multiples of 1/8 in the range percentages live in
    const floor = Math.floor(scaled);
    const diff = scaled - floor;
    if (diff === 0.5) return (floor % 2 === 0 ? floor : floor + 1) / 100;
  }
  return Number.parseFloat(x.toFixed(2));
}

/** Soda's percent: `round(count * 100 / row_count, 2)`, and 0 when either is 0. */
export function percent(count: number, rowCount: number): number {
  if (count === 0 || rowCount === 0) return 0;
  return pythonRound2((count * 100) / rowCount);
}

export function firstCell(rows: Rows, what: string): unknown {
  const row = rows[0];
  if (!row || row.length === 0) throw new DqEvaluationError(`${what}: the query returned no row`);
  return row[0];
}

/** A `SELECT count, row_count` row as the count metric or its percentage of rows. */
export function countOrPercent(rows: Rows, label: string, countName: string, asPercent: boolean): Measurement {
  const count = toNumber(firstCell(rows, label), countName);
  const rowCount = toNumber(rows[0]?.[1], 'row_count');
  return {
    value: asPercent ? percent(count, rowCount) : count,
    diagnostics: { [countName]: count, row_count: rowCount },
  };
}

/** The last non-NULL column of the first row (Soda's rule for `NAME query`). */
export function lastNonNull(rows: Rows, label: string): number {
  const row = rows[0];
  if (!row) throw new DqEvaluationError(`${label}: the query returned no row`);
  for (let i = row.length - 1; i >= 0; i--) {
    if (row[i] !== null && row[i] !== undefined) return toNumber(row[i], label);
  }
  throw new DqEvaluationError(`${label}: the query's first row has no non-NULL value`);
}
