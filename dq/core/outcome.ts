/**
 * Threshold semantics (docs/sodacl-v3.md, "Outcomes"): an inline threshold is the
 * pass condition; `warn:`/`fail:` thresholds describe the bad zone; fail is tested before warn.
 */
import type { Alerts, SchemaRules, Threshold } from './model.js';

export type Outcome = 'pass' | 'warn' | 'fail';

/** True when `value` lies in the zone the threshold describes. */
export function holds(t: Threshold, value: number): boolean {
  if (t.kind === 'compare') {
    switch (t.op) {
      case '<':
        return value < t.value;
      case '<=':
        return value <= t.value;
      case '=':
        return value === t.value;
      case '>=':
        return value >= t.value;
      case '>':
        return value > t.value;
      case '!=':
        return value !== t.value;
    }
  }
  const aboveLow = t.lowInclusive ? value >= t.low : value > t.low;
  const belowHigh = t.highInclusive ? value <= t.high : value < t.high;
  const inside = aboveLow && belowHigh;
  return t.negated ? !inside : inside;
}

/**
 * `defaultFail` is the bad zone used when no threshold is given at all (failed rows: `> 0`).
 * Soda lets an inline threshold win over `warn`/`fail` keys.
 */
export function outcomeOf(alerts: Alerts, value: number, defaultFail?: Threshold): Outcome {
  if (alerts.inline) return holds(alerts.inline, value) ? 'pass' : 'fail';
  const fail = alerts.fail ?? (alerts.warn ? undefined : defaultFail);
  if (fail && holds(fail, value)) return 'fail';
  if (alerts.warn && holds(alerts.warn, value)) return 'warn';
  return 'pass';
}

export function describeThreshold(t: Threshold): string {
  if (t.kind === 'compare') return `${t.op} ${t.value}`;
  return `${t.negated ? 'not ' : ''}between ${t.lowInclusive ? '[' : '('}${t.low} and ${t.high}${t.highInclusive ? ']' : ')'}`;
}

/**
 * Soda's SCHEMA_CHECK_TYPES_MAPPING for PostgreSQL: a catalog type name and the short forms
 * accepted for it. The mapping is one-directional lists, not equivalence classes: `varchar` and
 * `text` both match `character varying`, but not each other; `numeric` matches
 * `double precision`, and a `numeric` column matches only `numeric`.
 */
const TYPE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'character varying': ['varchar', 'text'],
  'double precision': ['decimal', 'numeric'],
  'timestamp without time zone': ['timestamp'],
  'timestamp with time zone': ['timestamptz'],
};

/** DataSource.is_same_type_in_schema_check: the expected name is trimmed and lower-cased. */
export function sameType(expected: string, actual: string): boolean {
  const e = expected.trim().toLowerCase();
  if (TYPE_ALIASES[actual]?.includes(e)) return true;
  if (TYPE_ALIASES[e]?.includes(actual)) return true;
  return e === actual.toLowerCase();
}

export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
  /** 0-based, as `when wrong column index` counts. */
  readonly index: number;
}

/**
 * A forbidden-column pattern as Soda matches it: `%` and `*` become `.*`, the rest is a regular
 * expression matched from the start of the name (Python's re.match: not anchored at the end).
 */
export function forbiddenPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern.replaceAll('%', '.*').replaceAll('*', '.*')})`);
}

/** Human-readable problems one rule set finds; empty when the schema satisfies it (SchemaCheck.get_schema_violations). */
export function schemaProblems(rules: SchemaRules, columns: readonly ColumnInfo[]): string[] {
  const byName = new Map(columns.map((c) => [c.name, c]));
  // Columns named under `when wrong column type` / `index` are required too.
  const required = new Set([
    ...rules.requiredMissing,
    ...Object.keys(rules.wrongType),
    ...Object.keys(rules.wrongIndex),
  ]);
  const problems = [...required].filter((n) => !byName.has(n)).map((n) => `required column missing: ${n}`);
  for (const pattern of rules.forbiddenPresent) {
    const re = forbiddenPattern(pattern);
    for (const c of columns) if (re.test(c.name)) problems.push(`forbidden column present: ${c.name}`);
  }
  for (const [name, type] of Object.entries(rules.wrongType)) {
    const c = byName.get(name);
    if (c && type !== null && !sameType(type, c.type))
      problems.push(`wrong column type: ${name} is ${c.type}, expected ${type}`);
  }
  for (const [name, index] of Object.entries(rules.wrongIndex)) {
    const c = byName.get(name);
    if (c && c.index !== index) problems.push(`wrong column index: ${name} is at ${c.index}, expected ${index}`);
  }
  return problems;
}
