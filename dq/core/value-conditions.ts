/**
 * SQL conditions for Soda's missing and invalid rules (docs/sodacl-v3.md, "Metrics"); every
 * value from the check file becomes a `$n` parameter.
 */
import type { ValueConfig } from './model.js';
import type { Params } from './sql.js';

export function hasValidity(c: ValueConfig): boolean {
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
export function missingCondition(col: string, c: ValueConfig, p: Params): string {
  const parts = [`${col} IS NULL`];
  if (c.missingValues.length > 0) parts.push(`${col} IN (${p.list(c.missingValues)})`);
  if (c.missingRegex !== undefined) parts.push(`CAST(${col} AS text) ~ ${p.add(c.missingRegex)}`);
  return parts.join(' OR ');
}

/** Every `valid ...` condition; a value is valid when all hold. */
function validConditions(col: string, c: ValueConfig, p: Params): string[] {
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
  return valid;
}

/** `NOT (all valid conditions) OR any invalid condition`, to be ANDed with NOT missing. */
export function invalidCore(col: string, c: ValueConfig, p: Params): string {
  const valid = validConditions(col, c, p);
  const invalid: string[] = [];
  if (c.invalidValues !== undefined) invalid.push(`${col} IN (${p.list(c.invalidValues)})`);
  if (c.invalidRegex !== undefined) invalid.push(`CAST(${col} AS text) ~ ${p.add(c.invalidRegex)}`);
  const parts: string[] = [];
  if (valid.length > 0) parts.push(`NOT (${valid.join(' AND ')})`);
  parts.push(...invalid);
  return parts.join(' OR ');
}
