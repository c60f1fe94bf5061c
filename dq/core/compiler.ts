/**
 * Compiles parsed checks to parameterized SQL, following Soda Core v3's queries for PostgreSQL
 * (shared/reference/sodacl-v3.md). Pure: no database access here, so the SQL of every check can
 * be unit-tested and printed with `--verbose`.
 */
import { DqEvaluationError } from './errors.js';
import type { Check, MetricCheck, ValueConfig } from './model.js';
import { Params, quoteIdent, quoteTable, type SqlQuery, stripSemicolons, whereClause } from './sql.js';

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

export interface CompiledCheck {
  readonly check: Check;
  /** Undefined when nothing needs to be queried (invalid_count without configuration). */
  readonly sql?: SqlQuery;
  /** Interprets the rows of `sql`; throws DqEvaluationError when the check cannot be evaluated. */
  read(rows: Rows): Measurement;
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

function hasValidity(c: ValueConfig): boolean {
  return (
    c.validValues !== undefined ||
    c.validRegex !== undefined ||
    c.validMin !== undefined ||
    c.validMax !== undefined ||
    c.validLength !== undefined ||
    c.validMinLength !== undefined ||
    c.validMaxLength !== undefined ||
    c.invalidValues !== undefined ||
    c.invalidRegex !== undefined
  );
}

/** `col IS NULL OR col IN (missing values) OR col ~ missing regex`. */
function missingCondition(col: string, c: ValueConfig, p: Params): string {
  const parts = [`${col} IS NULL`];
  if (c.missingValues.length > 0) parts.push(`${col} IN (${p.list(c.missingValues)})`);
  if (c.missingRegex !== undefined) parts.push(`CAST(${col} AS text) ~ ${p.add(c.missingRegex)}`);
  return parts.join(' OR ');
}

/** `NOT (all valid conditions) OR any invalid condition`, to be ANDed with NOT missing. */
function invalidCore(col: string, c: ValueConfig, p: Params): string {
  const valid: string[] = [];
  if (c.validValues !== undefined) valid.push(`${col} IN (${p.list(c.validValues)})`);
  if (c.validRegex !== undefined) valid.push(`CAST(${col} AS text) ~ ${p.add(c.validRegex)}`);
  // Typed as numbers, as Soda's literals are: an untyped parameter would compare a text column
  // as text ('10' < '5') where Soda errors.
  if (c.validMin !== undefined) valid.push(`${col} >= ${p.add(c.validMin)}::numeric`);
  if (c.validMax !== undefined) valid.push(`${col} <= ${p.add(c.validMax)}::numeric`);
  if (c.validLength !== undefined) valid.push(`LENGTH(CAST(${col} AS text)) = ${p.add(c.validLength)}`);
  if (c.validMinLength !== undefined) valid.push(`LENGTH(CAST(${col} AS text)) >= ${p.add(c.validMinLength)}`);
  if (c.validMaxLength !== undefined) valid.push(`LENGTH(CAST(${col} AS text)) <= ${p.add(c.validMaxLength)}`);
  const invalid: string[] = [];
  if (c.invalidValues !== undefined) invalid.push(`${col} IN (${p.list(c.invalidValues)})`);
  if (c.invalidRegex !== undefined) invalid.push(`CAST(${col} AS text) ~ ${p.add(c.invalidRegex)}`);
  const parts: string[] = [];
  if (valid.length > 0) parts.push(`NOT (${valid.join(' AND ')})`);
  parts.push(...invalid);
  return parts.join(' OR ');
}

const AGGREGATES: Readonly<Record<string, string>> = {
  min: 'MIN',
  max: 'MAX',
  avg: 'AVG',
  sum: 'SUM',
  stddev: 'STDDEV',
  stddev_pop: 'STDDEV_POP',
  stddev_samp: 'STDDEV_SAMP',
  variance: 'VARIANCE',
};

function firstCell(rows: Rows, what: string): unknown {
  const row = rows[0];
  if (!row || row.length === 0) throw new DqEvaluationError(`${what}: the query returned no row`);
  return row[0];
}

function compileMetric(check: MetricCheck): CompiledCheck {
  const dataset = check.dataset!;
  const p = new Params();
  const from = `FROM ${quoteTable(dataset.table)}${whereClause([dataset.where, check.filter])}`;
  const col = check.columns[0] === undefined ? '' : quoteIdent(check.columns[0]);
  const m = check.metric;
  const label = check.source;

  switch (m) {
    case 'row_count':
      return {
        check,
        sql: { text: `SELECT COUNT(*) ${from}`, params: p.values },
        read: (rows) => ({ value: toNumber(firstCell(rows, label), 'row_count'), diagnostics: {} }),
      };
    case 'missing_count':
    case 'missing_percent': {
      const missing = missingCondition(col, check.config, p);
      return {
        check,
        sql: { text: `SELECT COUNT(CASE WHEN ${missing} THEN 1 END), COUNT(*) ${from}`, params: p.values },
        read: (rows) => {
          const count = toNumber(firstCell(rows, label), 'missing_count');
          const rowCount = toNumber(rows[0]?.[1], 'row_count');
          return {
            value: m === 'missing_count' ? count : percent(count, rowCount),
            diagnostics: { missing_count: count, row_count: rowCount },
          };
        },
      };
    }
    case 'invalid_count':
    case 'invalid_percent': {
      if (!hasValidity(check.config)) {
        // Soda: no valid/invalid configuration means nothing can be invalid; it logs a warning.
        return {
          check,
          read: () => ({
            value: 0,
            diagnostics: {},
            warnings: [`${label}: no valid or invalid configuration; ${m} is 0`],
          }),
        };
      }
      const missing = missingCondition(col, check.config, p);
      const invalid = invalidCore(col, check.config, p);
      return {
        check,
        sql: {
          text: `SELECT COUNT(CASE WHEN NOT (${missing}) AND (${invalid}) THEN 1 END), COUNT(*) ${from}`,
          params: p.values,
        },
        read: (rows) => {
          const count = toNumber(firstCell(rows, label), 'invalid_count');
          const rowCount = toNumber(rows[0]?.[1], 'row_count');
          return {
            value: m === 'invalid_count' ? count : percent(count, rowCount),
            diagnostics: { invalid_count: count, row_count: rowCount },
          };
        },
      };
    }
    case 'duplicate_count':
    case 'duplicate_percent': {
      const cols = check.columns.map(quoteIdent);
      const notNull = cols.map((c) => `${c} IS NOT NULL`).join(' AND ');
      const inner = `SELECT COUNT(*) AS frequency FROM ${quoteTable(dataset.table)}${whereClause([dataset.where, check.filter, notNull])} GROUP BY ${cols.join(', ')}`;
      const rowCount = `SELECT COUNT(*) ${from}`;
      return {
        check,
        sql: {
          text: `WITH frequencies AS (${inner}) SELECT (SELECT COUNT(*) FROM frequencies WHERE frequency > 1), (${rowCount})`,
          params: p.values,
        },
        read: (rows) => {
          const count = toNumber(firstCell(rows, label), 'duplicate_count');
          const total = toNumber(rows[0]?.[1], 'row_count');
          return {
            value: m === 'duplicate_count' ? count : percent(count, total),
            diagnostics: { duplicate_count: count, row_count: total },
          };
        },
      };
    }
    default: {
      const fn = AGGREGATES[m];
      if (fn === undefined) throw new DqEvaluationError(`no SQL for metric ${m}`);
      let arg = col;
      if (check.hasValueConfig) {
        const missing = missingCondition(col, check.config, p);
        const valid = hasValidity(check.config) ? ` AND NOT (${invalidCore(col, check.config, p)})` : '';
        arg = `CASE WHEN NOT (${missing})${valid} THEN ${col} END`;
      }
      return {
        check,
        sql: { text: `SELECT ${fn}(${arg}) ${from}`, params: p.values },
        read: (rows) => {
          const v = firstCell(rows, label);
          if (v === null)
            throw new DqEvaluationError(
              `${label}: ${m} is NULL (no rows to aggregate), so the check cannot be evaluated`,
            );
          return { value: toNumber(v, m), diagnostics: {} };
        },
      };
    }
  }
}

/** The last non-NULL column of the first row (Soda's rule for `NAME query`). */
function lastNonNull(rows: Rows, label: string): number {
  const row = rows[0];
  if (!row) throw new DqEvaluationError(`${label}: the query returned no row`);
  for (let i = row.length - 1; i >= 0; i--) {
    if (row[i] !== null && row[i] !== undefined) return toNumber(row[i], label);
  }
  throw new DqEvaluationError(`${label}: the query's first row has no non-NULL value`);
}

export function compileCheck(check: Check): CompiledCheck {
  switch (check.type) {
    case 'metric':
      return compileMetric(check);
    case 'freshness': {
      const d = check.dataset!;
      // EXTRACT(EPOCH ...) of a timestamptz is the absolute instant; of a naive timestamp it
      // reads the value as UTC, which is exactly Soda's rule for naive timestamps.
      const text = `SELECT EXTRACT(EPOCH FROM MAX(${quoteIdent(check.column)})) FROM ${quoteTable(d.table)}${whereClause([d.where, check.filter])}`;
      return {
        check,
        sql: { text, params: [] },
        read: (rows) => {
          const v = firstCell(rows, check.source);
          return { value: v === null ? null : toNumber(v, `max(${check.column})`), diagnostics: {} };
        },
      };
    }
    case 'schema': {
      const d = check.dataset!;
      const [schema, table] = d.table.includes('.') ? d.table.split('.') : [null, d.table];
      return {
        check,
        sql: {
          text:
            'SELECT column_name, data_type, ordinal_position FROM information_schema.columns ' +
            'WHERE table_schema = COALESCE($1::text, current_schema()) AND table_name = $2 ORDER BY ordinal_position',
          params: [schema ?? null, table ?? d.table],
        },
        read: (rows) => {
          if (rows.length === 0) throw new DqEvaluationError(`${check.source}: table ${d.table} was not found`);
          return {
            value: null,
            diagnostics: {
              columns: rows.map((r) => ({
                name: String(r[0]),
                type: String(r[1]),
                index: toNumber(r[2], 'ordinal_position') - 1,
              })),
            },
          };
        },
      };
    }
    case 'failed_rows': {
      let text: string;
      if (check.query !== undefined) {
        // Newlines around free SQL: a trailing `-- comment` must not swallow the closing parenthesis.
        text = `SELECT COUNT(*) FROM (\n${stripSemicolons(check.query)}\n) AS failed_rows`;
      } else {
        const d = check.dataset!;
        text = `SELECT COUNT(*) FROM ${quoteTable(d.table)}${whereClause([d.where, check.filter, check.condition])}`;
      }
      return {
        check,
        sql: { text, params: [] },
        read: (rows) => ({ value: toNumber(firstCell(rows, check.source), 'failed rows count'), diagnostics: {} }),
      };
    }
    case 'user_metric': {
      let text: string;
      if (check.query !== undefined) text = stripSemicolons(check.query);
      else {
        const d = check.dataset!;
        text = `SELECT ${check.expression!} FROM ${quoteTable(d.table)}${whereClause([d.where, check.filter])}`;
      }
      return {
        check,
        sql: { text, params: [] },
        read: (rows) => ({ value: lastNonNull(rows, check.metricName), diagnostics: {} }),
      };
    }
  }
}
