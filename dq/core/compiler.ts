/**
 * Compiles parsed checks to parameterized SQL, following Soda Core v3's queries for PostgreSQL
 * (docs/sodacl-v3.md). Pure: no database access here, so the SQL of every check can be
 * unit-tested and printed with `--verbose`.
 */
import { DqEvaluationError } from './errors.js';
import { firstCell, lastNonNull, type Measurement, type Rows, toNumber } from './measurement.js';
import { compileMetric } from './metric-compiler.js';
import type { Check, Dataset, FailedRowsCheck, FreshnessCheck, SchemaCheck, UserMetricCheck } from './model.js';
import { quoteIdent, quoteTable, type SqlQuery, stripSemicolons, whereClause } from './sql.js';

export type { Measurement, Rows } from './measurement.js';
export { percent, pythonRound2, toNumber } from './measurement.js';

export interface CompiledCheck {
  readonly check: Check;
  /** Undefined when nothing needs to be queried (invalid_count without configuration). */
  readonly sql?: SqlQuery;
  /** Interprets the rows of `sql`; throws DqEvaluationError when the check cannot be evaluated. */
  read(rows: Rows): Measurement;
}

export function compileCheck(check: Check): CompiledCheck {
  switch (check.type) {
    case 'metric':
      return compileMetric(check);
    case 'freshness':
      return compileFreshness(check);
    case 'schema':
      return compileSchema(check);
    case 'failed_rows':
      return compileFailedRows(check);
    case 'user_metric':
      return compileUserMetric(check);
  }
}

/** The dataset of a check whose SQL is built on its table (the parser guarantees one). */
function datasetOf(check: FailedRowsCheck | UserMetricCheck): Dataset {
  if (!check.dataset) throw new DqEvaluationError(`${check.source}: needs a dataset ("checks for TABLE:")`);
  return check.dataset;
}

/**
 * The newest value as epoch seconds. EXTRACT(EPOCH ...) of a timestamptz is the absolute instant;
 * of a naive timestamp it reads the value as UTC, which is Soda's rule for naive timestamps. A
 * DATE counts as its last microsecond (Soda: datetime.combine(date, datetime.max.time())).
 */
function compileFreshness(check: FreshnessCheck): CompiledCheck {
  const d = check.dataset;
  const max = `MAX(${quoteIdent(check.column)})`;
  const text = `SELECT EXTRACT(EPOCH FROM ${max}), pg_typeof(${max})::text FROM ${quoteTable(d.table)}${whereClause([d.where, check.filter])}`;
  return {
    check,
    sql: { text, params: [] },
    read: (rows) => {
      const v = firstCell(rows, check.source);
      if (v === null) return { value: null, diagnostics: {} };
      const isDate = rows[0]?.[1] === 'date';
      const value = toNumber(v, `max(${check.column})`) + (isDate ? END_OF_DAY : 0);
      return { value, diagnostics: isDate ? { column_type: 'date', counted_as: 'end of day' } : {} };
    },
  };
}

/** From midnight to Python's datetime.max.time() (23:59:59.999999), in seconds. */
const END_OF_DAY = 86_400 - 1e-6;

function compileSchema(check: SchemaCheck): CompiledCheck {
  const d = check.dataset;
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
      const columns = rows.map((r) => ({
        name: String(r[0]),
        type: String(r[1]),
        index: toNumber(r[2], 'ordinal_position') - 1,
      }));
      return { value: null, diagnostics: { columns } };
    },
  };
}

function compileFailedRows(check: FailedRowsCheck): CompiledCheck {
  let text: string;
  if (check.query !== undefined) {
    // Newlines around free SQL: a trailing `-- comment` must not swallow the closing parenthesis.
    text = `SELECT COUNT(*) FROM (\n${stripSemicolons(check.query)}\n) AS failed_rows`;
  } else {
    const d = datasetOf(check);
    text = `SELECT COUNT(*) FROM ${quoteTable(d.table)}${whereClause([d.where, check.filter, check.condition])}`;
  }
  return {
    check,
    sql: { text, params: [] },
    read: (rows) => ({ value: toNumber(firstCell(rows, check.source), 'failed rows count'), diagnostics: {} }),
  };
}

function compileUserMetric(check: UserMetricCheck): CompiledCheck {
  let text: string;
  if (check.query !== undefined) text = stripSemicolons(check.query);
  else {
    const d = datasetOf(check);
    text = `SELECT ${check.expression ?? 'NULL'} FROM ${quoteTable(d.table)}${whereClause([d.where, check.filter])}`;
  }
  return {
    check,
    sql: { text, params: [] },
    read: (rows) => ({ value: lastNonNull(rows, check.metricName), diagnostics: {} }),
  };
}
