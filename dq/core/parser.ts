/**
 * Parser for the SodaCL subset in `docs/sodacl-v3.md`: a file's sections, in the order Soda
 * reads them. Each check entry goes to `check-parser.ts`.
 *
 * Design rule: anything not understood is a {@link DqSyntaxError} naming file and line, never
 * ignored. A data-quality runner that skips a check it cannot read reports "all green" exactly
 * when nobody is looking; Soda Core itself would either run the check or log an error (exit 3).
 *
 * YAML comes from the `yaml` package with a LineCounter, so every node maps back to its line.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument, type YAMLMap } from 'yaml';
import { type CheckContext, parseCheck } from './check-parser.js';
import { DqSyntaxError } from './errors.js';
import { isIdentifier, normalizeIdentifier, TABLE, tableName } from './identifiers.js';
import type { Check, CheckFile, Dataset, SourcePos } from './model.js';
import { isValueKey, type PartialValueConfig, readValueKey, VALUE_KEYS } from './value-config.js';
import { type Lookup, substituteVariables, variableLookup } from './variables.js';
import { keyText, mapKeys, mapOf, YamlSource } from './yaml-source.js';

export { normalizeIdentifier } from './identifiers.js';
export { parseThreshold } from './threshold.js';

export interface ParseOptions {
  /** Scan variables (`-v NAME=value`, `NOW`); the file's `variables:` section overrides them, as in Soda. */
  readonly variables?: Readonly<Record<string, string>>;
  /** The process environment; in Soda it wins over every other variable. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

export interface ParseResult {
  readonly file: CheckFile;
  /** Every problem found; a non-empty list means the scan must end with exit 3. */
  readonly errors: readonly DqSyntaxError[];
}

const CHECKS_FOR = new RegExp(String.raw`^checks for\s+(?<table>${TABLE})(?:\s+\[(?<part>[A-Za-z0-9_ -]+)\])?$`);
const FILTER_FOR = new RegExp(String.raw`^filter\s+(?<table>${TABLE})\s+\[(?<part>[A-Za-z0-9_ -]+)\]$`);
const CONFIG_FOR = new RegExp(String.raw`^configurations for\s+(?<table>${TABLE})$`);

class FileParser {
  readonly errors: DqSyntaxError[] = [];
  private readonly filters = new Map<string, string>();
  private readonly columnConfig = new Map<string, PartialValueConfig>();

  /** Undefined variables, each waiting for the check or section on its line. */
  private readonly variableErrors: DqSyntaxError[];

  constructor(
    private readonly source: YamlSource,
    private readonly lookup: Lookup,
    variableErrors: readonly DqSyntaxError[],
  ) {
    this.variableErrors = [...variableErrors];
  }

  /**
   * Throws the first undefined-variable error inside `node` (lines `from`..end), so only the
   * check or section that uses the variable is invalidated.
   */
  private rejectUndefinedVariables(node: Node | null | undefined, from: SourcePos): void {
    const last = this.source.lastLine(node, from);
    const index = this.variableErrors.findIndex((e) => e.pos.line >= from.line && e.pos.line <= last);
    const found = this.variableErrors[index];
    if (!found) return;
    this.variableErrors.splice(index, 1);
    throw found;
  }

  /** Undefined variables outside any check (comments, `variables:`): reported for the file. */
  leftoverVariableErrors(): readonly DqSyntaxError[] {
    return this.variableErrors;
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

  parseRoot(root: YAMLMap): Check[] {
    const checks: Check[] = [];
    // `configurations for` applies to the table's checks wherever it stands in the file, so it
    // is read first; read in file order, one placed after its checks was silently ignored.
    const configurationsFirst = [...root.items].sort(
      (a, b) => Number(!CONFIG_FOR.test(keyText(a.key))) - Number(!CONFIG_FOR.test(keyText(b.key))),
    );
    for (const pair of configurationsFirst) {
      this.attempt(() => checks.push(...this.parseSection(pair)));
    }
    return checks;
  }

  /** One top-level section; the checks it holds (none for filters and configurations). */
  private parseSection(pair: Pair): Check[] {
    const key = keyText(pair.key);
    const pos = this.source.pos(pair.key as Node | null);
    const value = pair.value as Node | null;
    if (key === 'variables') return []; // handled before parsing
    this.rejectUndefinedVariables(pair.key as Node | null, pos);
    if (key === 'checks') return this.parseCheckList(pair, undefined);
    const filter = FILTER_FOR.exec(key)?.groups;
    if (!CHECKS_FOR.test(key) && key !== 'checks') this.rejectUndefinedVariables(value, pos);
    if (filter?.table && filter.part) {
      this.parseFilter(key, tableName(filter.table), filter.part.trim(), value, pos);
      return [];
    }
    const config = CONFIG_FOR.exec(key)?.groups;
    if (config?.table) {
      this.parseConfigurations(tableName(config.table), value, pos);
      return [];
    }
    const checksFor = CHECKS_FOR.exec(key)?.groups;
    if (checksFor?.table) {
      return this.parseCheckList(pair, this.dataset(key, tableName(checksFor.table), checksFor.part?.trim(), pos));
    }
    throw new DqSyntaxError(
      pos,
      `unsupported top-level section "${key}" (supported: "checks for TABLE [partition]", "filter TABLE [partition]", "configurations for TABLE", "checks", "variables")`,
    );
  }

  /** `filter TABLE [partition]: where: SQL`. */
  private parseFilter(key: string, table: string, partition: string, value: Node | null, pos: SourcePos): void {
    const where = mapOf(value, pos, key).get('where');
    if (typeof where !== 'string' || where.trim() === '')
      throw new DqSyntaxError(pos, `"${key}:" needs a "where: <SQL>" entry`);
    const unknown = mapKeys(value).filter((k) => k !== 'where');
    if (unknown.length > 0) throw new DqSyntaxError(pos, `unsupported key(s) in "${key}": ${unknown.join(', ')}`);
    this.filters.set(`${table}[${partition}]`, where.trim());
  }

  /** The dataset of `checks for TABLE [partition]`; the partition's filter must come first. */
  private dataset(key: string, table: string, partition: string | undefined, pos: SourcePos): Dataset {
    if (partition === undefined) return { table };
    const where = this.filters.get(`${table}[${partition}]`);
    if (where === undefined) {
      throw new DqSyntaxError(
        pos,
        `"${key}" uses partition [${partition}] but no "filter ${table} [${partition}]:" is declared earlier in the file`,
      );
    }
    return { table, partition, where };
  }

  /** `TYPE for COLUMN: value` entries, TYPE any missing/valid/invalid key (Soda's column configurations). */
  private parseConfigurations(table: string, node: Node | null, pos: SourcePos): void {
    if (!isMap(node)) throw new DqSyntaxError(pos, `"configurations for ${table}" must hold a map`);
    for (const p of node.items) {
      const key = keyText(p.key);
      const kpos = this.source.pos(p.key as Node, pos);
      this.attempt(() => {
        const parts = key.split(' for ');
        const [type = '', column = ''] = parts.map((x) => x.trim());
        if (parts.length !== 2 || !isValueKey(type) || !isIdentifier(column)) {
          throw new DqSyntaxError(
            kpos,
            `unsupported configuration "${key}" (supported: "KEY for COLUMN" with KEY one of ${VALUE_KEYS.join(', ')})`,
          );
        }
        const id = `${table}.${normalizeIdentifier(column)}`;
        const config = this.columnConfig.get(id) ?? {};
        const before = config.missingValues;
        readValueKey(config, type, (p.value as Node | null)?.toJSON?.(), kpos);
        // Two `missing values for` entries add up, as the lists of check and table do.
        if (type === 'missing values' && before) config.missingValues = [...before, ...(config.missingValues ?? [])];
        this.columnConfig.set(id, config);
      });
    }
  }

  private parseCheckList(pair: Pair, dataset: Dataset | undefined): Check[] {
    const pos = this.source.pos(pair.key as Node);
    const node = pair.value as Node | null;
    if (!isSeq(node)) throw new DqSyntaxError(pos, 'a checks section must hold a list ("- check")');
    const ctx: CheckContext = {
      source: this.source,
      dataset,
      lookup: this.lookup,
      valueConfigFor: (table, column) => this.columnConfig.get(`${table}.${column}`),
    };
    const out: Check[] = [];
    for (const item of node.items as (Node | null)[]) {
      const check = this.attempt(() => this.parseEntry(item, this.source.pos(item, pos), ctx));
      if (check) out.push(check);
    }
    return out;
  }

  /** A list entry: a bare check line, or one key (the check line) with its configuration. */
  private parseEntry(item: Node | null, pos: SourcePos, ctx: CheckContext): Check {
    this.rejectUndefinedVariables(item, pos);
    if (isScalar(item)) return parseCheck(String(item.value), null, pos, ctx);
    const only = isMap(item) && item.items.length === 1 ? item.items[0] : undefined;
    if (only) {
      const header = isScalar(only.key) ? String(only.key.value) : '';
      return parseCheck(header, (only.value as Node | null) ?? null, this.source.pos(only.key as Node, pos), ctx);
    }
    throw new DqSyntaxError(
      pos,
      'a check must be a line ("- row_count > 0") or one key with its configuration ("- schema:")',
    );
  }
}

function yamlErrors(file: string, doc: ReturnType<typeof parseDocument>): DqSyntaxError[] {
  return doc.errors.map(
    (e) =>
      new DqSyntaxError({ file, line: e.linePos?.[0]?.line ?? 1 }, `YAML: ${e.message.split('\n')[0] ?? e.message}`),
  );
}

/** Parses one check file's text. Never throws for problems in the file: they are returned. */
export function parseCheckFile(file: string, text: string, options: ParseOptions = {}): ParseResult {
  const empty: CheckFile = { file, checks: [] };
  // Pass 1: the variables, then substitution on the text, then pass 2 on the result.
  const first = parseDocument(text, { lineCounter: new LineCounter() });
  if (first.errors.length > 0) return { file: empty, errors: yamlErrors(file, first) };
  const lookup = variableLookup(first, {
    ...(options.variables ? { scan: options.variables } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
  });
  const substituted = substituteVariables(file, text, lookup);

  const lines = new LineCounter();
  const doc = parseDocument(substituted.text, { lineCounter: lines });
  if (doc.errors.length > 0) return { file: empty, errors: yamlErrors(file, doc) };
  const fileError = (detail: string): ParseResult => ({
    file: empty,
    errors: [new DqSyntaxError({ file, line: 1 }, detail)],
  });
  if (doc.contents === null) return fileError('the file holds no checks');
  if (!isMap(doc.contents)) return fileError('a check file must be a YAML map ("checks for TABLE:" ...)');
  const parser = new FileParser(new YamlSource(file, lines), lookup, substituted.errors);
  const checks = parser.parseRoot(doc.contents);
  parser.errors.push(...parser.leftoverVariableErrors());
  if (checks.length === 0 && parser.errors.length === 0)
    parser.errors.push(new DqSyntaxError({ file, line: 1 }, 'the file holds no checks'));
  return { file: { file, checks }, errors: parser.errors };
}
