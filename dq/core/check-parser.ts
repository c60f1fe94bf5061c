/**
 * One check entry (`- row_count > 0`, `- schema: {...}`) to a {@link Check}. Each check kind has
 * its own step; anything none of them accepts is a {@link DqSyntaxError}, never skipped.
 */
import type { Node } from 'yaml';
import { CheckConfig } from './check-config.js';
import { parseDurationSeconds } from './duration.js';
import { DqSyntaxError } from './errors.js';
import { isNumericFormat } from './formats.js';
import { isIdentifier, normalizeIdentifier } from './identifiers.js';
import {
  AGGREGATE_METRICS,
  type Check,
  type Dataset,
  type FailedRowsCheck,
  type FreshnessCheck,
  type MetricCheck,
  NUMERIC_METRICS,
  type NumericMetric,
  type SchemaCheck,
  type SourcePos,
  type UserMetricCheck,
} from './model.js';
import { parseSchemaRules } from './schema-rules.js';
import { parseThreshold } from './threshold.js';
import {
  isConfigured,
  isValueKey,
  mergeValueConfig,
  type PartialValueConfig,
  readValueKey,
  VALUE_KEYS,
} from './value-config.js';
import type { Lookup } from './variables.js';
import type { YamlSource } from './yaml-source.js';

/** `metric(args) rest`; args may be empty or absent. */
const HEADER = /^(?<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?<args>[^()]*)\))?\s*(?<rest>.*)$/s;

/** What a check needs from the file around it. */
export interface CheckContext {
  readonly source: YamlSource;
  /** Undefined for data-source-wide checks (`checks:` at the top level). */
  readonly dataset: Dataset | undefined;
  /** Resolves a variable as `${NAME}` would (freshness reads its "now" from one). */
  readonly lookup: Lookup;
  /** `missing|valid|invalid ... for COLUMN` of the table's `configurations for`. */
  valueConfigFor(table: string, column: string): PartialValueConfig | undefined;
}

/** The fields every check kind carries, read once. */
interface Common {
  readonly cfg: CheckConfig;
  readonly ctx: CheckContext;
  readonly base: Pick<Check, 'pos' | 'source' | 'name' | 'dataset'>;
  readonly filter: string | undefined;
}

/** A metric line split into its name, column arguments and inline threshold. */
interface MetricHeader {
  readonly metricName: string;
  readonly args: string | undefined;
  readonly inline: string | undefined;
}

export function parseCheck(rawHeader: string, node: Node | null, pos: SourcePos, ctx: CheckContext): Check {
  const header = rawHeader.trim().replace(/\s+/g, ' ');
  const common = readCommon(new CheckConfig(header, node, pos, ctx.source), ctx);
  if (header === 'schema') return parseSchemaCheck(common);
  if (header === 'failed rows') return parseFailedRowsCheck(common);
  const metric = splitHeader(header, pos);
  if (metric.metricName === 'freshness') return parseFreshnessCheck(common, metric);
  if ((NUMERIC_METRICS as readonly string[]).includes(metric.metricName)) return parseMetricCheck(common, metric);
  if (isUserMetric(common.cfg, metric)) return parseUserMetricCheck(common, metric);
  throw new DqSyntaxError(
    pos,
    `unsupported check "${header}": metric "${metric.metricName}" is not in this runner's subset (${NUMERIC_METRICS.join(', ')}, freshness, schema, failed rows, user-defined "NAME query"/"NAME expression")`,
  );
}

function readCommon(cfg: CheckConfig, ctx: CheckContext): Common {
  const name = cfg.get('name');
  if (name !== undefined && typeof name !== 'string')
    throw new DqSyntaxError(cfg.keyPos('name'), '"name" must be a string');
  const base = {
    pos: cfg.pos,
    source: cfg.header,
    ...(name !== undefined ? { name } : {}),
    ...(ctx.dataset ? { dataset: ctx.dataset } : {}),
  };
  return { cfg, ctx, base, filter: cfg.optionalSql('filter') };
}

function splitHeader(header: string, pos: SourcePos): MetricHeader {
  const g = HEADER.exec(header)?.groups;
  if (!g?.name) throw new DqSyntaxError(pos, `cannot read check "${header}"`);
  const rest = (g.rest ?? '').trim();
  return { metricName: g.name, args: g.args, inline: rest === '' ? undefined : rest };
}

function requireDataset(c: Common, what: string): Dataset {
  if (!c.ctx.dataset) throw new DqSyntaxError(c.cfg.pos, `${what} belongs under "checks for TABLE:"`);
  return c.ctx.dataset;
}

function parseSchemaCheck(c: Common): SchemaCheck {
  const dataset = requireDataset(c, 'a schema check');
  const { cfg } = c;
  cfg.onlyKeys(['name', 'warn', 'fail']);
  const rules = (k: 'warn' | 'fail') =>
    cfg.has(k) ? parseSchemaRules(cfg.node, k, cfg.keyPos(k), c.ctx.source) : undefined;
  const warn = rules('warn');
  const fail = rules('fail');
  if (!warn && !fail)
    throw new DqSyntaxError(cfg.pos, 'a schema check needs "warn:" or "fail:" with at least one "when ..." rule');
  return { type: 'schema', ...c.base, dataset, ...(warn ? { warn } : {}), ...(fail ? { fail } : {}) };
}

function parseFailedRowsCheck(c: Common): FailedRowsCheck {
  const { cfg, filter } = c;
  cfg.onlyKeys(['name', 'fail condition', 'fail query', 'filter', 'warn', 'fail']);
  const condition = cfg.optionalSql('fail condition');
  const query = cfg.optionalSql('fail query');
  if ((condition === undefined) === (query === undefined)) {
    throw new DqSyntaxError(cfg.pos, 'a "failed rows" check needs exactly one of "fail condition:" or "fail query:"');
  }
  if (condition !== undefined && !c.ctx.dataset)
    throw new DqSyntaxError(
      cfg.keyPos('fail condition'),
      '"fail condition" needs a dataset: put it under "checks for TABLE:"',
    );
  if (query !== undefined && filter !== undefined)
    throw new DqSyntaxError(
      cfg.keyPos('filter'),
      '"filter" does not apply to a "fail query"; put the condition in the query',
    );
  return {
    type: 'failed_rows',
    ...c.base,
    ...(condition ? { condition } : {}),
    ...(query ? { query } : {}),
    ...(filter ? { filter } : {}),
    alerts: cfg.alerts(undefined),
  };
}

/** `freshness(col) < 1h`, or `warn:`/`fail:` `when > DURATION`. */
function freshnessLimits(cfg: CheckConfig, column: string, inline: string | undefined) {
  if (inline !== undefined) {
    const lim = /^<\s*(\S+)$/.exec(inline)?.[1];
    if (lim === undefined)
      throw new DqSyntaxError(
        cfg.pos,
        `freshness takes "< DURATION" (e.g. "freshness(${column}) < 1h"), not "${inline}"`,
      );
    return { failAfterSeconds: parseDurationSeconds(lim, cfg.pos), warnAfterSeconds: undefined };
  }
  const read = (k: 'warn' | 'fail'): number | undefined => {
    const v = cfg.get(k);
    if (v === undefined) return undefined;
    const limit = typeof v === 'string' ? /^when\s*>\s*(\S+)$/.exec(v.trim())?.[1] : undefined;
    if (limit === undefined)
      throw new DqSyntaxError(cfg.keyPos(k), `freshness "${k}:" must be "when > DURATION", e.g. "when > 1h"`);
    return parseDurationSeconds(limit, cfg.keyPos(k));
  };
  const limits = { failAfterSeconds: read('fail'), warnAfterSeconds: read('warn') };
  if (limits.warnAfterSeconds === undefined && limits.failAfterSeconds === undefined) {
    throw new DqSyntaxError(
      cfg.pos,
      `freshness needs a limit: "freshness(${column}) < 1h", or "warn:"/"fail:" "when > DURATION"`,
    );
  }
  return limits;
}

/** `freshness(col)` or `freshness(col, VARIABLE)`: the variable holds "now" (default `NOW`). */
function freshnessArgs(args: string | undefined, cfg: CheckConfig): { column: string; nowVariable: string } {
  const parts = (args ?? '').split(',').map((s) => s.trim());
  const [column = '', variable, ...more] = parts;
  if (
    column === '' ||
    !isIdentifier(column) ||
    more.length > 0 ||
    (variable !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable))
  )
    throw new DqSyntaxError(
      cfg.pos,
      `freshness takes a column and optionally a variable name: "freshness(col)" or "freshness(col, NOW_VAR)"`,
    );
  return { column: normalizeIdentifier(column), nowVariable: variable ?? 'NOW' };
}

function parseFreshnessCheck(c: Common, h: MetricHeader): FreshnessCheck {
  const dataset = requireDataset(c, 'a freshness check');
  const { column, nowVariable } = freshnessArgs(h.args, c.cfg);
  const nowText = c.ctx.lookup(nowVariable);
  c.cfg.onlyKeys(['name', 'warn', 'fail', 'filter']);
  const { failAfterSeconds, warnAfterSeconds } = freshnessLimits(c.cfg, column, h.inline);
  return {
    type: 'freshness',
    ...c.base,
    dataset,
    column,
    nowVariable,
    ...(nowText !== undefined ? { now: nowText } : {}),
    ...(failAfterSeconds !== undefined ? { failAfterSeconds } : {}),
    ...(warnAfterSeconds !== undefined ? { warnAfterSeconds } : {}),
    ...(c.filter ? { filter: c.filter } : {}),
  };
}

/** Metrics that take no missing/valid keys (Soda ignores them there; this runner refuses them). */
const NO_VALUE_CONFIG: readonly string[] = ['row_count', 'duplicate_count', 'duplicate_percent'];

/** The check's own missing/valid keys. */
function checkValueKeys(cfg: CheckConfig): PartialValueConfig {
  const out: PartialValueConfig = {};
  for (const k of cfg.keys()) if (isValueKey(k)) readValueKey(out, k, cfg.get(k), cfg.keyPos(k));
  return out;
}

function parseMetricCheck(c: Common, h: MetricHeader): MetricCheck {
  const metric = h.metricName as NumericMetric;
  const dataset = requireDataset(c, `"${metric}"`);
  const { cfg } = c;
  const columns = columnArgs(metric, h.args, cfg);
  const allowsValueConfig = !NO_VALUE_CONFIG.includes(metric);
  cfg.onlyKeys(['name', 'warn', 'fail', 'filter', ...(allowsValueConfig ? VALUE_KEYS : [])]);
  const first = columns[0];
  const own = checkValueKeys(cfg);
  const table = allowsValueConfig && first !== undefined ? c.ctx.valueConfigFor(dataset.table, first) : undefined;
  const config = mergeValueConfig(own, table);
  rejectNumericFormatCasts(cfg, metric, config);
  const alerts = cfg.alerts(h.inline === undefined ? undefined : parseThreshold(h.inline, cfg.pos));
  if (!alerts.inline && !alerts.warn && !alerts.fail)
    throw new DqSyntaxError(cfg.pos, `"${cfg.header}" has no threshold: add "OP value" or "warn:"/"fail:" "when ..."`);
  return {
    type: 'metric',
    ...c.base,
    dataset,
    metric,
    columns,
    alerts,
    ...(c.filter ? { filter: c.filter } : {}),
    config,
    hasValueConfig: isConfigured(own, table),
  };
}

/**
 * With a numeric `valid format`, Soda casts text to a number for `valid min`/`valid max` and for
 * aggregates; this runner does not reproduce that cast, so it refuses the combination.
 */
function rejectNumericFormatCasts(cfg: CheckConfig, metric: NumericMetric, config: MetricCheck['config']): void {
  if (config.validFormat === undefined || !isNumericFormat(config.validFormat)) return;
  if (
    config.validMin !== undefined ||
    config.validMax !== undefined ||
    (AGGREGATE_METRICS as readonly string[]).includes(metric)
  ) {
    throw new DqSyntaxError(
      cfg.pos,
      `numeric "valid format: ${config.validFormat}" with "valid min"/"valid max" or an aggregate is not supported (Soda casts the text to a number there)`,
    );
  }
}

function isUserMetric(cfg: CheckConfig, h: MetricHeader): boolean {
  if (h.args !== undefined) return cfg.has(`${h.metricName} expression`);
  return cfg.has(`${h.metricName} query`) || cfg.has(`${h.metricName} expression`);
}

/** `NAME(column)` names the one column a user expression measures. */
function userMetricColumn(h: MetricHeader, cfg: CheckConfig): string | undefined {
  if (h.args === undefined) return undefined;
  const arg = h.args.trim();
  if (!isIdentifier(arg)) throw new DqSyntaxError(cfg.pos, `"${h.metricName}(${arg})" takes one column name`);
  return normalizeIdentifier(arg);
}

/** A user-defined metric: `NAME OP value:` with `NAME query:` or `NAME expression:`. */
function parseUserMetricCheck(c: Common, h: MetricHeader): UserMetricCheck {
  const { cfg, filter } = c;
  const { metricName } = h;
  cfg.onlyKeys(['name', 'warn', 'fail', 'filter', `${metricName} query`, `${metricName} expression`]);
  const column = userMetricColumn(h, cfg);
  const query = cfg.optionalSql(`${metricName} query`);
  const expression = cfg.optionalSql(`${metricName} expression`);
  if (column !== undefined && filter !== undefined)
    throw new DqSyntaxError(
      cfg.keyPos('filter'),
      `"filter" can't be combined with "${metricName} expression" on a column (Soda logs this as an error); put the condition in the expression`,
    );
  if (query !== undefined && expression !== undefined)
    throw new DqSyntaxError(cfg.pos, `give "${metricName} query" or "${metricName} expression", not both`);
  if (expression !== undefined && !c.ctx.dataset)
    throw new DqSyntaxError(cfg.pos, `"${metricName} expression" needs a dataset: put it under "checks for TABLE:"`);
  if (query !== undefined && filter !== undefined)
    throw new DqSyntaxError(
      cfg.keyPos('filter'),
      '"filter" does not apply to a query metric; put the condition in the query',
    );
  const alerts = cfg.alerts(h.inline === undefined ? undefined : parseThreshold(h.inline, cfg.pos));
  if (!alerts.inline && !alerts.warn && !alerts.fail)
    throw new DqSyntaxError(cfg.pos, `"${cfg.header}" has no threshold`);
  return {
    type: 'user_metric',
    ...c.base,
    metricName,
    ...(column !== undefined ? { column } : {}),
    ...(query ? { query } : {}),
    ...(expression ? { expression } : {}),
    ...(filter ? { filter } : {}),
    alerts,
  };
}

/** The column arguments of a metric: none for row_count, several only for duplicates. */
function columnArgs(metric: NumericMetric, args: string | undefined, cfg: CheckConfig): string[] {
  const { pos, header } = cfg;
  if (metric === 'row_count') {
    if (args !== undefined && args.trim() !== '')
      throw new DqSyntaxError(pos, `row_count takes no column ("${header}")`);
    return [];
  }
  const parts = (args ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new DqSyntaxError(pos, `"${metric}" needs a column, e.g. ${metric}(sensor_id)`);
  for (const p of parts) {
    if (!isIdentifier(p)) throw new DqSyntaxError(pos, `"${p}" is not a column name (letters, digits, _; or "quoted")`);
  }
  if (parts.length > 1 && !metric.startsWith('duplicate_'))
    throw new DqSyntaxError(pos, `"${metric}" takes one column; only duplicate_count/duplicate_percent take several`);
  return parts.map(normalizeIdentifier);
}
