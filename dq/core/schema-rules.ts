/** The `warn:` / `fail:` rule sets of a `schema:` check. */
import { isMap, type Node } from 'yaml';
import { DqSyntaxError } from './errors.js';
import type { SchemaRules, SourcePos } from './model.js';
import { forbiddenPattern } from './outcome.js';
import { mapOf, type YamlSource } from './yaml-source.js';

const RULES = [
  'when required column missing',
  'when forbidden column present',
  'when wrong column type',
  'when wrong column index',
] as const;

/** Reads one rule set; `source` places errors on the rule's own line. */
class RuleReader {
  constructor(
    private readonly rules: Map<string, unknown>,
    private readonly node: Node | undefined,
    private readonly pos: SourcePos,
    private readonly source: YamlSource,
  ) {}

  rulePos(k: string): SourcePos {
    return this.source.pairPos(this.node, k, this.pos);
  }

  rejectUnknownRules(): void {
    for (const k of this.rules.keys()) {
      if (!(RULES as readonly string[]).includes(k)) {
        throw new DqSyntaxError(this.rulePos(k), `unsupported schema rule "${k}" (supported: ${RULES.join(', ')})`);
      }
    }
  }

  names(k: string, allowWildcards: boolean): string[] {
    const v = this.rules.get(k);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw new DqSyntaxError(this.rulePos(k), `"${k}" must be a list of column names`);
    // Any name, compared exactly with the catalog's spelling (quoted names, hyphens, capitals).
    return (v as string[]).map((x) => {
      if (x === '') throw new DqSyntaxError(this.rulePos(k), `"${k}": a column name cannot be empty`);
      if (allowWildcards) this.validPattern(k, x);
      return x;
    });
  }

  /** A forbidden-column pattern is a regular expression in Soda; one that cannot compile is an error. */
  private validPattern(k: string, pattern: string): void {
    try {
      forbiddenPattern(pattern);
    } catch (error) {
      throw new DqSyntaxError(this.rulePos(k), `"${k}": "${pattern}" is not a valid pattern (${String(error)})`);
    }
  }

  dict<T>(k: string, check: (v: unknown) => v is T, what: string): Record<string, T> {
    const v = this.rules.get(k);
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new DqSyntaxError(this.rulePos(k), `"${k}" must map column names to ${what}`);
    const out: Record<string, T> = {};
    for (const [col, val] of Object.entries(v)) {
      if (!check(val)) throw new DqSyntaxError(this.rulePos(k), `"${k}": ${col} must map to ${what}`);
      out[col] = val;
    }
    return out;
  }
}

/** `config` is the node under `- schema:`; `key` picks its `warn:` or `fail:` map. */
export function parseSchemaRules(
  config: Node | null,
  key: 'warn' | 'fail',
  pos: SourcePos,
  source: YamlSource,
): SchemaRules {
  const node = isMap(config) ? (config.get(key, true) as Node | undefined) : undefined;
  const reader = new RuleReader(mapOf(node, pos, key), node, pos, source);
  reader.rejectUnknownRules();
  return {
    requiredMissing: reader.names('when required column missing', false),
    forbiddenPresent: reader.names('when forbidden column present', true),
    wrongType: reader.dict(
      'when wrong column type',
      (v): v is string | null => v === null || (typeof v === 'string' && v.trim() !== ''),
      'a type name',
    ),
    wrongIndex: reader.dict(
      'when wrong column index',
      (v): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0,
      'a 0-based index',
    ),
  };
}
