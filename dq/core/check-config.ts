/**
 * The nested keys of one check (`name:`, `filter:`, `warn:`, `valid values:` ...) with their
 * positions, and the checks every check kind shares: only known keys, SQL that is text.
 */
import { isScalar, type Node } from 'yaml';
import { DqSyntaxError } from './errors.js';
import type { Alerts, SourcePos, Threshold } from './model.js';
import { parseWhen } from './threshold.js';
import { mapOf, type YamlSource } from './yaml-source.js';

export class CheckConfig {
  private readonly values: Map<string, unknown>;

  constructor(
    /** The check line, whitespace collapsed. */
    readonly header: string,
    /** The YAML node under the check line (null for a bare `- row_count > 0`). */
    readonly node: Node | null,
    readonly pos: SourcePos,
    private readonly source: YamlSource,
  ) {
    this.values = node === null || (isScalar(node) && node.value === null) ? new Map() : mapOf(node, pos, header);
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): unknown {
    return this.values.get(key);
  }

  keys(): IterableIterator<string> {
    return this.values.keys();
  }

  keyPos(key: string): SourcePos {
    return this.source.pairPos(this.node, key, this.pos);
  }

  /** A misspelt key is an error, never ignored. */
  onlyKeys(allowed: readonly string[]): void {
    for (const k of this.values.keys()) {
      if (!allowed.includes(k)) {
        throw new DqSyntaxError(
          this.keyPos(k),
          `unsupported key "${k}" in check "${this.header}" (allowed here: ${allowed.join(', ')})`,
        );
      }
    }
  }

  optionalSql(key: string): string | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '')
      throw new DqSyntaxError(this.keyPos(key), `"${key}" must be SQL text`);
    return v.trim();
  }

  /** The inline threshold (if any) and the `warn:`/`fail:` zones. */
  alerts(inline: Threshold | undefined): Alerts {
    const warn = this.has('warn') ? parseWhen(this.get('warn'), this.keyPos('warn'), 'warn') : undefined;
    const fail = this.has('fail') ? parseWhen(this.get('fail'), this.keyPos('fail'), 'fail') : undefined;
    return { ...(inline ? { inline } : {}), ...(warn ? { warn } : {}), ...(fail ? { fail } : {}) };
  }
}
