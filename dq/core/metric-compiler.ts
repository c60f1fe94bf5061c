/** SQL of the numeric column metrics (`row_count`, `missing_*`, `invalid_*`, `duplicate_*`, aggregates). */
import type { CompiledCheck } from './compiler.js';
import { DqEvaluationError } from './errors.js';
import { countOrPercent, firstCell, toNumber } from './measurement.js';
import type { MetricCheck } from './model.js';
import { Params, quoteIdent, quoteTable, whereClause } from './sql.js';
import { hasValidity, invalidCore, missingCondition } from './value-conditions.js';

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

/** The pieces every metric query shares. */
interface MetricSql {
  readonly check: MetricCheck;
  readonly p: Params;
  /** `FROM table WHERE dataset filter AND check filter`. */
  readonly from: string;
  /** The quoted column ('' for row_count). */
  readonly col: string;
}

export function compileMetric(check: MetricCheck): CompiledCheck {
  const first = check.columns[0];
  const m: MetricSql = {
    check,
    p: new Params(),
    from: `FROM ${quoteTable(check.dataset.table)}${whereClause([check.dataset.where, check.filter])}`,
    col: first === undefined ? '' : quoteIdent(first),
  };
  switch (check.metric) {
    case 'row_count':
      return compileRowCount(m);
    case 'missing_count':
    case 'missing_percent':
      return compileMissing(m);
    case 'invalid_count':
    case 'invalid_percent':
      return compileInvalid(m);
    case 'duplicate_count':
    case 'duplicate_percent':
      return compileDuplicates(m);
    default:
      return compileAggregate(m);
  }
}

function compileRowCount({ check, p, from }: MetricSql): CompiledCheck {
  return {
    check,
    sql: { text: `SELECT COUNT(*) ${from}`, params: p.values },
    read: (rows) => ({ value: toNumber(firstCell(rows, check.source), 'row_count'), diagnostics: {} }),
  };
}

function compileMissing({ check, p, from, col }: MetricSql): CompiledCheck {
  const missing = missingCondition(col, check.config, p);
  return {
    check,
    sql: { text: `SELECT COUNT(CASE WHEN ${missing} THEN 1 END), COUNT(*) ${from}`, params: p.values },
    read: (rows) => countOrPercent(rows, check.source, 'missing_count', check.metric === 'missing_percent'),
  };
}

function compileInvalid({ check, p, from, col }: MetricSql): CompiledCheck {
  if (!hasValidity(check.config)) {
    // Soda: no valid/invalid configuration means nothing can be invalid; it logs a warning.
    return {
      check,
      read: () => ({
        value: 0,
        diagnostics: {},
        warnings: [`${check.source}: no valid or invalid configuration; ${check.metric} is 0`],
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
    read: (rows) => countOrPercent(rows, check.source, 'invalid_count', check.metric === 'invalid_percent'),
  };
}

function compileDuplicates({ check, p, from }: MetricSql): CompiledCheck {
  const cols = check.columns.map(quoteIdent);
  const notNull = cols.map((c) => `${c} IS NOT NULL`).join(' AND ');
  const where = whereClause([check.dataset.where, check.filter, notNull]);
  const inner = `SELECT COUNT(*) AS frequency FROM ${quoteTable(check.dataset.table)}${where} GROUP BY ${cols.join(', ')}`;
  return {
    check,
    sql: {
      text: `WITH frequencies AS (${inner}) SELECT (SELECT COUNT(*) FROM frequencies WHERE frequency > 1), (SELECT COUNT(*) ${from})`,
      params: p.values,
    },
    read: (rows) => countOrPercent(rows, check.source, 'duplicate_count', check.metric === 'duplicate_percent'),
  };
}

function compileAggregate({ check, p, from, col }: MetricSql): CompiledCheck {
  const fn = AGGREGATES[check.metric];
  if (fn === undefined) throw new DqEvaluationError(`no SQL for metric ${check.metric}`);
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
      const v = firstCell(rows, check.source);
      if (v === null)
        throw new DqEvaluationError(
          `${check.source}: ${check.metric} is NULL (no rows to aggregate), so the check cannot be evaluated`,
        );
      return { value: toNumber(v, check.metric), diagnostics: {} };
    },
  };
}
