/**
 * Parser for the SodaCL subset in `shared/reference/sodacl-v3.md`.
 *
 * Design rule: anything not understood is a {@link DqSyntaxError} naming file and line, never
 * ignored. A data-quality runner that skips a check it cannot read reports "all green" exactly
 * when nobody is looking; Soda Core itself would either run the check or log an error (exit 3).
 *
 * YAML comes from the `yaml` package with a LineCounter, so every node maps back to its line.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument, type YAMLMap } from 'yaml';
import { parseDurationSeconds } from './duration.js';
import { DqSyntaxError } from './errors.js';
import {
  type Alerts,
  type Check,
  type CheckFile,
  type ComparisonOp,
  type Dataset,
  NUMERIC_METRICS,
  type NumericMetric,
  type SchemaRules,
  type SourcePos,
  type Threshold,
  type ValueConfig,
} from './model.js';

export interface ParseOptions {
  /** Scan variables (`-v NAME=value`); they override the file's own `variables:` section. */
  readonly variables?: Readonly<Record<string, string>>;
}

export interface ParseResult {
  readonly file: CheckFile;
  /** Every problem found; a non-empty list means the scan must end with exit 3. */
  readonly errors: readonly DqSyntaxError[];
}

const IDENT = '(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")';
const TABLE = String.raw`${IDENT}(?:\.${IDENT})?`;
const CHECKS_FOR = new RegExp(String.raw`^checks for\s+(${TABLE})(?:\s+\[([A-Za-z0-9_ -]+)\])?$`);
const FILTER_FOR = new RegExp(String.raw`^filter\s+(${TABLE})\s+\[([A-Za-z0-9_ -]+)\]$`);
const CONFIG_FOR = new RegExp(String.raw`^configurations for\s+(${TABLE})$`);
const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const COMPARE = new RegExp(String.raw`^(<=|>=|!=|<>|<|>|=)\s*(${NUMBER})\s*%?$`);
const BETWEEN = new RegExp(
  String.raw`^(not\s+)?between\s+([\[(]?)\s*(${NUMBER})\s*%?\s+and\s+(${NUMBER})\s*%?\s*([\])]?)$`,
);
/** `metric(args) rest`; args may be empty or absent. */
const HEADER = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^()]*)\))?\s*(.*)$/s;

/** Soda unquoted identifiers are sent to PostgreSQL unquoted, which folds them to lower case. */
export function normalizeIdentifier(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed.startsWith('"')) return trimmed.slice(1, -1).replaceAll('""', '"');
  return trimmed.toLowerCase();
}

function isIdentifier(raw: string): boolean {
  return new RegExp(`^${IDENT}$`).test(raw.trim());
}

/** Splits `a.b` into its parts, respecting quotes. */
function tableName(raw: string): string {
  const parts = raw.match(new RegExp(IDENT, 'g')) ?? [];
  return parts.map(normalizeIdentifier).join('.');
}

export function parseThreshold(text: string, pos: SourcePos): Threshold {
  const t = text.trim().replace(/\s+/g, ' ');
  const cmp = COMPARE.exec(t);
  if (cmp) {
    const op = (cmp[1] === '<>' ? '!=' : cmp[1]) as ComparisonOp;
    return { kind: 'compare', op, value: Number(cmp[2]) };
  }
  const btw = BETWEEN.exec(t);
  if (btw) {
    const low = Number(btw[3]);
    const high = Number(btw[4]);
    return {
      kind: 'between',
      negated: btw[1] !== undefined,
      low,
      lowInclusive: btw[2] !== '(',
      high,
      highInclusive: btw[5] !== ')',
    };
  }
  throw new DqSyntaxError(
    pos,
    `unsupported threshold "${text.trim()}" (expected "OP number" with OP in < <= = >= > != <>, or "[not] between a and b")`,
  );
}

/** `when > 0.5` as written under `warn:` / `fail:`. */
function parseWhen(value: unknown, pos: SourcePos, key: string): Threshold {
  if (typeof value !== 'string' || !/^when\s+/.test(value.trim())) {
    throw new DqSyntaxError(pos, `"${key}:" must be "when <threshold>", e.g. "${key}: when > 0"`);
  }
  return parseThreshold(value.trim().replace(/^when\s+/, ''), pos);
}

class FileParser {
  readonly errors: DqSyntaxError[] = [];
  private readonly filters = new Map<string, string>();
  private readonly missingConfig = new Map<string, (string | number)[]>();

  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  pos(node: Node | null | undefined, fallback?: SourcePos): SourcePos {
    const offset = node?.range?.[0];
    if (offset === undefined) return fallback ?? { file: this.file, line: 1 };
    return { file: this.file, line: this.lines.linePos(offset).line };
  }

  /** Runs `fn`, recording a syntax error instead of aborting the whole file. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      if (error instanceof DqSyntaxError) {
        this.errors.push(error);
        return undefined;
      }
      throw error;
    }
  }

  private rootKey(pair: { key: unknown }): string {
    const keyNode = pair.key as Node | null;
    return isScalar(keyNode) ? String(keyNode.value).trim().replace(/\s+/g, ' ') : '';
  }

  parseRoot(root: YAMLMap): Check[] {
    const checks: Check[] = [];
    // `configurations for` applies to the table's checks wherever it stands in the file, so it
    // is read first; read in file order, one placed after its checks was silently ignored.
    const configurationsFirst = [...root.items].sort(
      (a, b) => Number(!CONFIG_FOR.test(this.rootKey(a))) - Number(!CONFIG_FOR.test(this.rootKey(b))),
    );
    for (const pair of configurationsFirst) {
      const keyNode = pair.key as Node | null;
      const pos = this.pos(keyNode);
      const key = this.rootKey(pair);
      this.attempt(() => {
        if (key === 'variables') return; // handled before parsing
        if (key === 'checks') {
          checks.push(...this.parseCheckList(pair, undefined));
          return;
        }
        const filter = FILTER_FOR.exec(key);
        if (filter) {
          const where = this.mapOf(pair.value as Node, pos, key).get('where');
          if (typeof where !== 'string' || where.trim() === '')
            throw new DqSyntaxError(pos, `"${key}:" needs a "where: <SQL>" entry`);
          const unknown = this.mapKeys(pair.value as Node).filter((k) => k !== 'where');
          if (unknown.length > 0) throw new DqSyntaxError(pos, `unsupported key(s) in "${key}": ${unknown.join(', ')}`);
          this.filters.set(`${tableName(filter[1]!)}[${filter[2]!.trim()}]`, where.trim());
          return;
        }
        const config = CONFIG_FOR.exec(key);
        if (config) {
          this.parseConfigurations(tableName(config[1]!), pair.value as Node, pos);
          return;
        }
        const checksFor = CHECKS_FOR.exec(key);
        if (checksFor) {
          const table = tableName(checksFor[1]!);
          const partition = checksFor[2]?.trim();
          let dataset: Dataset = { table };
          if (partition !== undefined) {
            const where = this.filters.get(`${table}[${partition}]`);
            if (where === undefined) {
              throw new DqSyntaxError(
                pos,
                `"${key}" uses partition [${partition}] but no "filter ${table} [${partition}]:" is declared earlier in the file`,
              );
            }
            dataset = { table, partition, where };
          }
          checks.push(...this.parseCheckList(pair, dataset));
          return;
        }
        throw new DqSyntaxError(
          pos,
          `unsupported top-level section "${key}" (supported: "checks for TABLE [partition]", "filter TABLE [partition]", "configurations for TABLE", "checks", "variables")`,
        );
      });
    }
    return checks;
  }

  private mapKeys(node: Node | null | undefined): string[] {
    if (!isMap(node)) return [];
    return node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
  }

  /** A YAML map as JS values; errors on anything but a map. */
  private mapOf(node: Node | null | undefined, pos: SourcePos, what: string): Map<string, unknown> {
    if (!isMap(node)) throw new DqSyntaxError(pos, `"${what}" must hold a map of keys`);
    const out = new Map<string, unknown>();
    for (const p of node.items) {
      const k = isScalar(p.key) ? String(p.key.value).trim().replace(/\s+/g, ' ') : '';
      out.set(k, (p.value as Node | null)?.toJSON?.() ?? (isScalar(p.value) ? p.value.value : null));
    }
    return out;
  }

  private pairPos(node: Node | null | undefined, key: string, fallback: SourcePos): SourcePos {
    if (!isMap(node)) return fallback;
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value).trim().replace(/\s+/g, ' ') === key);
    return pair ? this.pos(pair.key as Node, fallback) : fallback;
  }

  private parseConfigurations(table: string, node: Node, pos: SourcePos): void {
    if (!isMap(node)) throw new DqSyntaxError(pos, `"configurations for ${table}" must hold a map`);
    for (const p of node.items) {
      const key = isScalar(p.key) ? String(p.key.value).trim().replace(/\s+/g, ' ') : '';
      const kpos = this.pos(p.key as Node, pos);
      this.attempt(() => {
        const m = /^missing values for\s+(.+)$/.exec(key);
        if (!m || !isIdentifier(m[1]!)) {
          throw new DqSyntaxError(
            kpos,
            `unsupported configuration "${key}" (supported: "missing values for COLUMN: [...]")`,
          );
        }
        const column = normalizeIdentifier(m[1]!);
        const list = this.valueList((p.value as Node | null)?.toJSON?.(), kpos, key);
        this.missingConfig.set(`${table}.${column}`, [
          ...(this.missingConfig.get(`${table}.${column}`) ?? []),
          ...list,
        ]);
      });
    }
  }

  private valueList(value: unknown, pos: SourcePos, key: string): (string | number)[] {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
      throw new DqSyntaxError(pos, `"${key}" must be a list of strings or numbers`);
    }
    return value as (string | number)[];
  }

  private parseCheckList(pair: Pair, dataset: Dataset | undefined): Check[] {
    const pos = this.pos(pair.key as Node);
    const node = pair.value as Node | null;
    if (!isSeq(node)) throw new DqSyntaxError(pos, 'a checks section must hold a list ("- check")');
    const out: Check[] = [];
    for (const item of node.items as (Node | null)[]) {
      const ipos = this.pos(item, pos);
      const check = this.attempt(() => {
        if (isScalar(item)) return this.parseCheck(String(item.value), null, ipos, dataset);
        if (isMap(item) && item.items.length === 1) {
          const p = item.items[0]!;
          const header = isScalar(p.key) ? String(p.key.value) : '';
          return this.parseCheck(header, (p.value as Node | null) ?? null, this.pos(p.key as Node, ipos), dataset);
        }
        throw new DqSyntaxError(
          ipos,
          'a check must be a line ("- row_count > 0") or one key with its configuration ("- schema:")',
        );
      });
      if (check) out.push(check);
    }
    return out;
  }

  private parseCheck(rawHeader: string, config: Node | null, pos: SourcePos, dataset: Dataset | undefined): Check {
    const header = rawHeader.trim().replace(/\s+/g, ' ');
    const cfg =
      config === null || (isScalar(config) && config.value === null)
        ? new Map<string, unknown>()
        : this.mapOf(config, pos, header);
    const keyPos = (k: string): SourcePos => this.pairPos(config, k, pos);
    const name = cfg.get('name');
    if (name !== undefined && typeof name !== 'string')
      throw new DqSyntaxError(keyPos('name'), '"name" must be a string');
    const base = { pos, source: header, ...(name !== undefined ? { name } : {}), ...(dataset ? { dataset } : {}) };
    const filter = this.optionalSql(cfg, 'filter', keyPos);

    if (header === 'schema') {
      if (!dataset) throw new DqSyntaxError(pos, 'a schema check belongs under "checks for TABLE:"');
      this.onlyKeys(cfg, ['name', 'warn', 'fail'], keyPos, header);
      const warn = cfg.has('warn') ? this.schemaRules(config, 'warn', keyPos('warn')) : undefined;
      const fail = cfg.has('fail') ? this.schemaRules(config, 'fail', keyPos('fail')) : undefined;
      if (!warn && !fail)
        throw new DqSyntaxError(pos, 'a schema check needs "warn:" or "fail:" with at least one "when ..." rule');
      return { type: 'schema', ...base, ...(warn ? { warn } : {}), ...(fail ? { fail } : {}) };
    }

    if (header === 'failed rows') {
      this.onlyKeys(cfg, ['name', 'fail condition', 'fail query', 'filter', 'warn', 'fail'], keyPos, header);
      const condition = this.optionalSql(cfg, 'fail condition', keyPos);
      const query = this.optionalSql(cfg, 'fail query', keyPos);
      if ((condition === undefined) === (query === undefined)) {
        throw new DqSyntaxError(pos, 'a "failed rows" check needs exactly one of "fail condition:" or "fail query:"');
      }
      if (condition !== undefined && !dataset)
        throw new DqSyntaxError(
          keyPos('fail condition'),
          '"fail condition" needs a dataset: put it under "checks for TABLE:"',
        );
      if (query !== undefined && filter !== undefined)
        throw new DqSyntaxError(
          keyPos('filter'),
          '"filter" does not apply to a "fail query"; put the condition in the query',
        );
      const alerts = this.alerts(cfg, keyPos, undefined);
      return {
        type: 'failed_rows',
        ...base,
        ...(condition ? { condition } : {}),
        ...(query ? { query } : {}),
        ...(filter ? { filter } : {}),
        alerts,
      };
    }

    const m = HEADER.exec(header);
    if (!m) throw new DqSyntaxError(pos, `cannot read check "${header}"`);
    const metricName = m[1]!;
    const args = m[2];
    const rest = m[3]!.trim();
    const inline = rest === '' ? undefined : rest;

    if (metricName === 'freshness') {
      if (!dataset) throw new DqSyntaxError(pos, 'a freshness check belongs under "checks for TABLE:"');
      const column = this.singleColumn(args, pos, header);
      this.onlyKeys(cfg, ['name', 'warn', 'fail', 'filter'], keyPos, header);
      let failAfterSeconds: number | undefined;
      let warnAfterSeconds: number | undefined;
      if (inline !== undefined) {
        const lim = /^<\s*(\S+)$/.exec(inline);
        if (!lim)
          throw new DqSyntaxError(
            pos,
            `freshness takes "< DURATION" (e.g. "freshness(${column}) < 1h"), not "${inline}"`,
          );
        failAfterSeconds = parseDurationSeconds(lim[1]!, pos);
      } else {
        const read = (k: 'warn' | 'fail'): number | undefined => {
          const v = cfg.get(k);
          if (v === undefined) return undefined;
          const w = typeof v === 'string' ? /^when\s*>\s*(\S+)$/.exec(v.trim()) : null;
          if (!w) throw new DqSyntaxError(keyPos(k), `freshness "${k}:" must be "when > DURATION", e.g. "when > 1h"`);
          return parseDurationSeconds(w[1]!, keyPos(k));
        };
        warnAfterSeconds = read('warn');
        failAfterSeconds = read('fail');
        if (warnAfterSeconds === undefined && failAfterSeconds === undefined) {
          throw new DqSyntaxError(
            pos,
            `freshness needs a limit: "freshness(${column}) < 1h", or "warn:"/"fail:" "when > DURATION"`,
          );
        }
      }
      return {
        type: 'freshness',
        ...base,
        column,
        ...(failAfterSeconds !== undefined ? { failAfterSeconds } : {}),
        ...(warnAfterSeconds !== undefined ? { warnAfterSeconds } : {}),
        ...(filter ? { filter } : {}),
      };
    }

    if ((NUMERIC_METRICS as readonly string[]).includes(metricName)) {
      const metric = metricName as NumericMetric;
      if (!dataset) throw new DqSyntaxError(pos, `"${metric}" belongs under "checks for TABLE:"`);
      const columns = this.columns(metric, args, pos, header);
      const valueKeys = [
        'missing values',
        'missing regex',
        'valid values',
        'valid regex',
        'valid min',
        'valid max',
        'valid length',
        'valid min length',
        'valid max length',
        'invalid values',
        'invalid regex',
      ];
      const allowsValueConfig = !['row_count', 'duplicate_count', 'duplicate_percent'].includes(metric);
      this.onlyKeys(cfg, ['name', 'warn', 'fail', 'filter', ...(allowsValueConfig ? valueKeys : [])], keyPos, header);
      const config = this.valueConfig(cfg, keyPos, dataset.table, columns[0]);
      // Missing values from `configurations for` shape aggregates too, not only the check's keys.
      const hasValueConfig = valueKeys.some((k) => cfg.has(k)) || config.missingValues.length > 0;
      const alerts = this.alerts(cfg, keyPos, inline === undefined ? undefined : parseThreshold(inline, pos));
      if (!alerts.inline && !alerts.warn && !alerts.fail)
        throw new DqSyntaxError(pos, `"${header}" has no threshold: add "OP value" or "warn:"/"fail:" "when ..."`);
      return {
        type: 'metric',
        ...base,
        metric,
        columns,
        alerts,
        ...(filter ? { filter } : {}),
        config,
        hasValueConfig,
      };
    }

    // A user-defined metric: `NAME OP value:` with `NAME query:` or `NAME expression:`.
    if (args === undefined && (cfg.has(`${metricName} query`) || cfg.has(`${metricName} expression`))) {
      this.onlyKeys(
        cfg,
        ['name', 'warn', 'fail', 'filter', `${metricName} query`, `${metricName} expression`],
        keyPos,
        header,
      );
      const query = this.optionalSql(cfg, `${metricName} query`, keyPos);
      const expression = this.optionalSql(cfg, `${metricName} expression`, keyPos);
      if (query !== undefined && expression !== undefined)
        throw new DqSyntaxError(pos, `give "${metricName} query" or "${metricName} expression", not both`);
      if (expression !== undefined && !dataset)
        throw new DqSyntaxError(pos, `"${metricName} expression" needs a dataset: put it under "checks for TABLE:"`);
      if (query !== undefined && filter !== undefined)
        throw new DqSyntaxError(
          keyPos('filter'),
          '"filter" does not apply to a query metric; put the condition in the query',
        );
      const alerts = this.alerts(cfg, keyPos, inline === undefined ? undefined : parseThreshold(inline, pos));
      if (!alerts.inline && !alerts.warn && !alerts.fail) throw new DqSyntaxError(pos, `"${header}" has no threshold`);
      return {
        type: 'user_metric',
        ...base,
        metricName,
        ...(query ? { query } : {}),
        ...(expression ? { expression } : {}),
        ...(filter ? { filter } : {}),
        alerts,
      };
    }
    throw new DqSyntaxError(
      pos,
      `unsupported check "${header}": metric "${metricName}" is not in this runner's subset (${NUMERIC_METRICS.join(', ')}, freshness, schema, failed rows, user-defined "NAME query"/"NAME expression")`,
    );
  }

  private onlyKeys(
    cfg: Map<string, unknown>,
    allowed: string[],
    keyPos: (k: string) => SourcePos,
    header: string,
  ): void {
    for (const k of cfg.keys()) {
      if (!allowed.includes(k)) {
        throw new DqSyntaxError(
          keyPos(k),
          `unsupported key "${k}" in check "${header}" (allowed here: ${allowed.join(', ')})`,
        );
      }
    }
  }

  private optionalSql(cfg: Map<string, unknown>, key: string, keyPos: (k: string) => SourcePos): string | undefined {
    const v = cfg.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw new DqSyntaxError(keyPos(key), `"${key}" must be SQL text`);
    return v.trim();
  }

  private singleColumn(args: string | undefined, pos: SourcePos, header: string): string {
    const cols = this.columns('min', args, pos, header);
    return cols[0]!;
  }

  private columns(metric: NumericMetric, args: string | undefined, pos: SourcePos, header: string): string[] {
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
      if (!isIdentifier(p))
        throw new DqSyntaxError(pos, `"${p}" is not a column name (letters, digits, _; or "quoted")`);
    }
    if (parts.length > 1 && !metric.startsWith('duplicate_'))
      throw new DqSyntaxError(pos, `"${metric}" takes one column; only duplicate_count/duplicate_percent take several`);
    return parts.map(normalizeIdentifier);
  }

  private valueConfig(
    cfg: Map<string, unknown>,
    keyPos: (k: string) => SourcePos,
    table: string,
    column: string | undefined,
  ): ValueConfig {
    const num = (k: string): number | undefined => {
      const v = cfg.get(k);
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new DqSyntaxError(keyPos(k), `"${k}" must be a number`);
      return v;
    };
    const int = (k: string): number | undefined => {
      const v = num(k);
      if (v !== undefined && (!Number.isInteger(v) || v < 0))
        throw new DqSyntaxError(keyPos(k), `"${k}" must be a non-negative integer`);
      return v;
    };
    const str = (k: string): string | undefined => {
      const v = cfg.get(k);
      if (v === undefined) return undefined;
      if (typeof v !== 'string')
        throw new DqSyntaxError(keyPos(k), `"${k}" must be a string (a POSIX regular expression)`);
      return v;
    };
    const list = (k: string): (string | number)[] | undefined =>
      cfg.has(k) ? this.valueList(cfg.get(k), keyPos(k), k) : undefined;
    const fromConfig = column === undefined ? [] : (this.missingConfig.get(`${table}.${column}`) ?? []);
    const out: { -readonly [K in keyof ValueConfig]: ValueConfig[K] } = {
      missingValues: [...fromConfig, ...(list('missing values') ?? [])],
    };
    const set = <K extends keyof ValueConfig>(k: K, v: ValueConfig[K] | undefined): void => {
      if (v !== undefined) out[k] = v;
    };
    set('missingRegex', str('missing regex'));
    set('validValues', list('valid values'));
    set('validRegex', str('valid regex'));
    set('validMin', num('valid min'));
    set('validMax', num('valid max'));
    set('validLength', int('valid length'));
    set('validMinLength', int('valid min length'));
    set('validMaxLength', int('valid max length'));
    set('invalidValues', list('invalid values'));
    set('invalidRegex', str('invalid regex'));
    return out;
  }

  private alerts(cfg: Map<string, unknown>, keyPos: (k: string) => SourcePos, inline: Threshold | undefined): Alerts {
    const warn = cfg.has('warn') ? parseWhen(cfg.get('warn'), keyPos('warn'), 'warn') : undefined;
    const fail = cfg.has('fail') ? parseWhen(cfg.get('fail'), keyPos('fail'), 'fail') : undefined;
    return { ...(inline ? { inline } : {}), ...(warn ? { warn } : {}), ...(fail ? { fail } : {}) };
  }

  private schemaRules(config: Node | null, key: 'warn' | 'fail', pos: SourcePos): SchemaRules {
    const node = isMap(config) ? (config.get(key, true) as Node | undefined) : undefined;
    const rules = this.mapOf(node, pos, key);
    const rpos = (k: string): SourcePos => this.pairPos(node, k, pos);
    const names = (k: string, allowWildcards: boolean): string[] => {
      const v = rules.get(k);
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new DqSyntaxError(rpos(k), `"${k}" must be a list of column names`);
      return (v as string[]).map((x) => {
        const ok = allowWildcards ? /^[A-Za-z0-9_$%*]+$/.test(x) : /^[A-Za-z_][A-Za-z0-9_$]*$/.test(x);
        if (!ok) throw new DqSyntaxError(rpos(k), `"${x}" is not a column name`);
        return x;
      });
    };
    const dict = <T>(k: string, check: (v: unknown) => v is T, what: string): Record<string, T> => {
      const v = rules.get(k);
      if (v === undefined) return {};
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new DqSyntaxError(rpos(k), `"${k}" must map column names to ${what}`);
      const out: Record<string, T> = {};
      for (const [col, val] of Object.entries(v)) {
        if (!check(val)) throw new DqSyntaxError(rpos(k), `"${k}": ${col} must map to ${what}`);
        out[col] = val;
      }
      return out;
    };
    for (const k of rules.keys()) {
      if (
        ![
          'when required column missing',
          'when forbidden column present',
          'when wrong column type',
          'when wrong column index',
        ].includes(k)
      ) {
        throw new DqSyntaxError(
          rpos(k),
          `unsupported schema rule "${k}" (supported: when required column missing, when forbidden column present, when wrong column type, when wrong column index)`,
        );
      }
    }
    return {
      requiredMissing: names('when required column missing', false),
      forbiddenPresent: names('when forbidden column present', true),
      wrongType: dict(
        'when wrong column type',
        (v): v is string => typeof v === 'string' && v.trim() !== '',
        'a type name',
      ),
      wrongIndex: dict(
        'when wrong column index',
        (v): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0,
        'a 0-based index',
      ),
    };
  }
}

/** `${NAME}` (spaces allowed inside the braces), as Soda substitutes variables. */
const VARIABLE = /\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}/g;

function yamlErrors(file: string, doc: ReturnType<typeof parseDocument>): DqSyntaxError[] {
  return doc.errors.map(
    (e) =>
      new DqSyntaxError({ file, line: e.linePos?.[0]?.line ?? 1 }, `YAML: ${e.message.split('\n')[0] ?? e.message}`),
  );
}

/** Parses one check file's text. Never throws for problems in the file: they are returned. */
export function parseCheckFile(file: string, text: string, options: ParseOptions = {}): ParseResult {
  const empty: CheckFile = { file, checks: [] };
  // Pass 1: the file's own `variables:` (defaults), overridden by scan variables.
  const first = parseDocument(text, { lineCounter: new LineCounter() });
  if (first.errors.length > 0) return { file: empty, errors: yamlErrors(file, first) };
  const fileVars = first.get('variables');
  const variables: Record<string, string> = {};
  if (isMap(fileVars)) {
    for (const p of fileVars.items) {
      if (isScalar(p.key) && isScalar(p.value)) variables[String(p.key.value)] = String(p.value.value);
    }
  }
  Object.assign(variables, options.variables ?? {});

  const errors: DqSyntaxError[] = [];
  const lineOf = (offset: number): number => text.slice(0, offset).split('\n').length;
  const substituted = text.replace(VARIABLE, (whole, name: string, offset: number) => {
    const value = variables[name];
    if (value === undefined) {
      errors.push(
        new DqSyntaxError(
          { file, line: lineOf(offset) },
          `variable \${${name}} is not defined (pass it with -v ${name}=... or a "variables:" section)`,
        ),
      );
      return whole;
    }
    if (/[\r\n]/.test(value)) {
      errors.push(new DqSyntaxError({ file, line: lineOf(offset) }, `variable \${${name}} must be a single line`));
      return whole;
    }
    return value;
  });
  if (errors.length > 0) return { file: empty, errors };

  const lines = new LineCounter();
  const doc = parseDocument(substituted, { lineCounter: lines });
  if (doc.errors.length > 0) return { file: empty, errors: yamlErrors(file, doc) };
  if (doc.contents === null)
    return { file: empty, errors: [new DqSyntaxError({ file, line: 1 }, 'the file holds no checks')] };
  if (!isMap(doc.contents))
    return {
      file: empty,
      errors: [new DqSyntaxError({ file, line: 1 }, 'a check file must be a YAML map ("checks for TABLE:" ...)')],
    };
  const parser = new FileParser(file, lines);
  const checks = parser.parseRoot(doc.contents);
  if (checks.length === 0 && parser.errors.length === 0)
    parser.errors.push(new DqSyntaxError({ file, line: 1 }, 'the file holds no checks'));
  return { file: { file, checks }, errors: parser.errors };
}
