/**
 * The parsed form of a SodaCL (Soda Core v3) check file: the subset this runner supports.
 *
 * Everything here is plain data with a source position, so every later error (a bad column
 * name, a query that fails) can still name the file and line the user has to fix.
 */

/** Where a construct came from; `line` is 1-based, as editors show it. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
}

export type ComparisonOp = '<' | '<=' | '=' | '>=' | '>' | '!=';

/** `OP value`, or `[not] between a and b` with per-side inclusivity. */
export type Threshold =
  | { readonly kind: 'compare'; readonly op: ComparisonOp; readonly value: number }
  | {
      readonly kind: 'between';
      readonly negated: boolean;
      readonly low: number;
      readonly lowInclusive: boolean;
      readonly high: number;
      readonly highInclusive: boolean;
    };

/**
 * How a check turns a value into an outcome. `inline` is the pass condition written on the check
 * line; `warn`/`fail` describe the bad zones (`when ...`). Soda lets the inline threshold win.
 */
export interface Alerts {
  readonly inline?: Threshold;
  readonly warn?: Threshold;
  readonly fail?: Threshold;
}

/**
 * Missing/valid/invalid configuration of a column: the check's keys merged with the table's
 * `configurations for` (Soda's MissingAndValidCfg.merge: lists add up, otherwise the check wins).
 */
export interface ValueConfig {
  readonly missingValues: readonly (string | number)[];
  readonly missingFormat?: string;
  readonly missingRegex?: string;
  readonly validValues?: readonly (string | number)[];
  readonly validFormat?: string;
  readonly validRegex?: string;
  readonly validMin?: number;
  readonly validMax?: number;
  readonly validLength?: number;
  readonly validMinLength?: number;
  readonly validMaxLength?: number;
  readonly invalidValues?: readonly (string | number)[];
  readonly invalidFormat?: string;
  readonly invalidRegex?: string;
  /** `include null: true` adds NULLs to the valid (valid_count) or invalid (invalid_count) rows. */
  readonly includeNull?: boolean;
}

/** Metrics that aggregate a column's values (over the valid ones when missing/valid keys apply). */
export const AGGREGATE_METRICS = [
  'min',
  'max',
  'avg',
  'sum',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'min_length',
  'max_length',
  'avg_length',
] as const;

export const NUMERIC_METRICS = [
  'row_count',
  'missing_count',
  'missing_percent',
  'invalid_count',
  'invalid_percent',
  'valid_count',
  'valid_percent',
  'duplicate_count',
  'duplicate_percent',
  ...AGGREGATE_METRICS,
] as const;
export type NumericMetric = (typeof NUMERIC_METRICS)[number];

/** The dataset a check runs on: table (or view) and the partition's `where`, if any. */
export interface Dataset {
  readonly table: string;
  readonly partition?: string;
  /** SQL of `filter TABLE [partition]: where:`; ANDed into every query of the group. */
  readonly where?: string;
}

interface CheckBase {
  readonly pos: SourcePos;
  /** The check line as written (`missing_count(sensor_id) = 0`), Soda's default check name. */
  readonly source: string;
  readonly name?: string;
  /** Undefined for data-source-wide checks (`checks:` at the top level). */
  readonly dataset?: Dataset;
}

export interface MetricCheck extends CheckBase {
  readonly type: 'metric';
  readonly dataset: Dataset;
  readonly metric: NumericMetric;
  readonly columns: readonly string[];
  readonly alerts: Alerts;
  /** In-check `filter:` SQL, ANDed with the dataset filter. */
  readonly filter?: string;
  readonly config: ValueConfig;
  /** True when any missing/valid configuration applies, so aggregates run over `CASE WHEN ... END`. */
  readonly hasValueConfig: boolean;
}

export interface FreshnessCheck extends CheckBase {
  readonly type: 'freshness';
  readonly dataset: Dataset;
  readonly column: string;
  /** The scan variable holding "now": `NOW` unless written `freshness(col, VAR)`. */
  readonly nowVariable: string;
  /** That variable's text; undefined when it is not defined (Soda: FAIL, with an error). */
  readonly now?: string;
  /** Limits in seconds; fail (or warn) when freshness is strictly greater. */
  readonly failAfterSeconds?: number;
  readonly warnAfterSeconds?: number;
  readonly filter?: string;
}

/** Column names exactly as the catalog spells them (Soda compares them as written). */
export interface SchemaRules {
  readonly requiredMissing: readonly string[];
  readonly forbiddenPresent: readonly string[];
  /** A null type only requires the column. */
  readonly wrongType: Readonly<Record<string, string | null>>;
  readonly wrongIndex: Readonly<Record<string, number>>;
}

export interface SchemaCheck extends CheckBase {
  readonly type: 'schema';
  readonly dataset: Dataset;
  readonly warn?: SchemaRules;
  readonly fail?: SchemaRules;
}

export interface FailedRowsCheck extends CheckBase {
  readonly type: 'failed_rows';
  readonly condition?: string;
  readonly query?: string;
  readonly filter?: string;
  /** Without alerts a failed-rows check fails when the count is > 0. */
  readonly alerts: Alerts;
}

export interface UserMetricCheck extends CheckBase {
  readonly type: 'user_metric';
  readonly metricName: string;
  /** `NAME(column)`: names the column the expression measures (Soda reports it; the SQL is the expression). */
  readonly column?: string;
  readonly query?: string;
  readonly expression?: string;
  readonly filter?: string;
  readonly alerts: Alerts;
}

export type Check = MetricCheck | FreshnessCheck | SchemaCheck | FailedRowsCheck | UserMetricCheck;

export interface CheckFile {
  readonly file: string;
  readonly checks: readonly Check[];
}
