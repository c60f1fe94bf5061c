/** SQL of the numeric column metrics (`row_count`, `missing_*`, `invalid_*`, `duplicate_*`, aggregates). */
import type { CompiledCheck } from './compiler.js';
import { DqEvaluationError } from './errors.js';
import { countOrPercent, firstCell, toNumber } from './measurement.js';
import type { MetricCheck } from './model.js';
import { Params, quoteIdent, quoteTable, whereClause } from './sql.js';
import { invalidRowCondition, missingCondition, validRowCondition } from './value-conditions.js';

const AGGREGATES: Readonly<Record<string, string>> = {
  min: 'MIN',
  max: 'MAX',
  avg: 'AVG',
  sum: 'SUM',
  stddev: 'STDDEV',
  stddev_pop: 'STDDEV_POP',
  stddev_samp: 'STDDEV_SAMP',
  variance: 'VARIANCE',
  min_length: 'MIN',
  max_length: 'MAX',
  avg_length: 'AVG',
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
    case 'valid_count':
    case 'valid_percent':
      return compileValid(m);
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

/** `SELECT COUNT(rows meeting condition), COUNT(*)`: a count metric and its percentage. */
function countWhere({ check, p, from }: MetricSql, condition: string, countName: string): CompiledCheck {
  return {
    check,
    sql: { text: `SELECT COUNT(CASE WHEN ${condition} THEN 1 END), COUNT(*) ${from}`, params: p.values },
    read: (rows) => countOrPercent(rows, check.source, countName, check.metric.endsWith('_percent')),
  };
}

function compileMissing(m: MetricSql): CompiledCheck {
  return countWhere(m, missingCondition(m.col, m.check.config, m.p), 'missing_count');
}

function compileInvalid(m: MetricSql): CompiledCheck {
  const { check } = m;
  const invalid = invalidRowCondition(m.col, check.config, m.p);
  if (invalid === undefined) {
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
  return countWhere(m, invalid, 'invalid_count');
}

/** valid_count: rows neither missing nor invalid (without valid/invalid keys: not missing). */
function compileValid(m: MetricSql): CompiledCheck {
  return countWhere(m, validRowCondition(m.col, m.check.config, m.p), 'valid_count');
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
  let arg = check.hasValueConfig ? `CASE WHEN ${validRowCondition(col, check.config, p)} THEN ${col} END` : col;
  // Soda's length metrics: the aggregate of LENGTH over the (valid, non-missing) values.
  if (check.metric.endsWith('_length')) arg = `LENGTH(CAST(${arg} AS text))`;
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
