/**
 * SQL conditions for Soda's missing, valid and invalid rules, built as Soda's
 * NumericQueryMetric builds them (docs/sodacl-v3.md, "Metrics"); every value from the check file
 * becomes a `$n` parameter.
 */
import { SODA_FORMATS } from './formats.js';
import type { ValueConfig } from './model.js';
import type { Params } from './sql.js';

/** `col ~ regex` over the text form of the column. */
function matches(col: string, regex: string, p: Params): string {
  return `CAST(${col} AS text) ~ ${p.add(regex)}`;
}

function formatMatches(col: string, format: string | undefined, p: Params): string | undefined {
  const regex = format === undefined ? undefined : SODA_FORMATS.get(format);
  return regex === undefined ? undefined : matches(col, regex, p);
}

function present<T>(items: readonly (T | undefined)[]): T[] {
  return items.filter((x): x is T => x !== undefined);
}

/** `col IS NULL OR col IN (missing values) OR col ~ missing format OR col ~ missing regex`. */
export function missingCondition(col: string, c: ValueConfig, p: Params): string {
  return present([
    `${col} IS NULL`,
    c.missingValues.length > 0 ? `${col} IN (${p.list(c.missingValues)})` : undefined,
    formatMatches(col, c.missingFormat, p),
    c.missingRegex !== undefined ? matches(col, c.missingRegex, p) : undefined,
  ]).join(' OR ');
}

/** Every `valid ...` condition ANDed; undefined when none is configured. */
function validCondition(col: string, c: ValueConfig, p: Params): string | undefined {
  const length = `LENGTH(CAST(${col} AS text))`;
  const parts = present([
    c.validValues !== undefined ? `${col} IN (${p.list(c.validValues)})` : undefined,
    formatMatches(col, c.validFormat, p),
    c.validRegex !== undefined ? matches(col, c.validRegex, p) : undefined,
    c.validLength !== undefined ? `${length} = ${p.add(c.validLength)}` : undefined,
    c.validMinLength !== undefined ? `${length} >= ${p.add(c.validMinLength)}` : undefined,
    c.validMaxLength !== undefined ? `${length} <= ${p.add(c.validMaxLength)}` : undefined,
    // Typed as numbers, as Soda's literals are: an untyped parameter would compare a text column
    // as text ('10' < '5') where Soda errors.
    c.validMin !== undefined ? `${col} >= ${p.add(c.validMin)}::numeric` : undefined,
    c.validMax !== undefined ? `${col} <= ${p.add(c.validMax)}::numeric` : undefined,
  ]);
  return parts.length > 0 ? parts.join(' AND ') : undefined;
}

/** Every `invalid ...` condition ORed; undefined when none is configured. */
function invalidCondition(col: string, c: ValueConfig, p: Params): string | undefined {
  const parts = present([
    formatMatches(col, c.invalidFormat, p),
    c.invalidValues !== undefined ? `${col} IN (${p.list(c.invalidValues)})` : undefined,
    c.invalidRegex !== undefined ? matches(col, c.invalidRegex, p) : undefined,
  ]);
  return parts.length > 0 ? parts.join(' OR ') : undefined;
}

/** ` OR col IS NULL` with `include null: true`. */
function includeNull(col: string, c: ValueConfig): string {
  return c.includeNull === true ? ` OR ${col} IS NULL` : '';
}

/**
 * invalid_count's condition; undefined when neither valid nor invalid keys are configured
 * (Soda then counts nothing and logs a warning).
 */
export function invalidRowCondition(col: string, c: ValueConfig, p: Params): string | undefined {
  const missing = missingCondition(col, c, p);
  const valid = validCondition(col, c, p);
  const invalid = invalidCondition(col, c, p);
  const nulls = includeNull(col, c);
  if (valid !== undefined && invalid !== undefined)
    return `NOT (${missing}) AND (NOT (${valid}) OR (${invalid}))${nulls}`;
  if (valid !== undefined) return `NOT (${missing}) AND NOT (${valid})${nulls}`;
  if (invalid !== undefined) return `NOT (${missing}) AND (${invalid})${nulls}`;
  return undefined;
}

/**
 * valid_count's condition, and the rows aggregates run over when anything is configured.
 * As in Soda, `valid ...` keys decide when present and `invalid ...` keys only otherwise.
 */
export function validRowCondition(col: string, c: ValueConfig, p: Params): string {
  const missing = missingCondition(col, c, p);
  const valid = validCondition(col, c, p);
  if (valid !== undefined) return `NOT (${missing}) AND (${valid})${includeNull(col, c)}`;
  const invalid = invalidCondition(col, c, p);
  if (invalid !== undefined) return `NOT (${missing}) AND NOT (${invalid})${includeNull(col, c)}`;
  return `NOT (${missing})`;
}
