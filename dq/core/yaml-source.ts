/**
 * Reading YAML nodes with their source lines: every value the parser takes from a check file
 * keeps a position, so an error can name the line the user has to fix.
 */
import { isMap, isScalar, type LineCounter, type Node } from 'yaml';
import { DqSyntaxError } from './errors.js';
import type { SourcePos } from './model.js';

/** A map key as SodaCL compares it: trimmed, runs of whitespace as one space. */
export function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value).trim().replace(/\s+/g, ' ') : '';
}

/** One file's nodes and the line counter that maps their offsets back to lines. */
export class YamlSource {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  pos(node: Node | null | undefined, fallback?: SourcePos): SourcePos {
    const offset = node?.range?.[0];
    if (offset === undefined) return fallback ?? { file: this.file, line: 1 };
    return { file: this.file, line: this.lines.linePos(offset).line };
  }

  /** The last line a node spans (its own line when it has no range). */
  lastLine(node: Node | null | undefined, fallback: SourcePos): number {
    const end = node?.range?.[2];
    return end === undefined || end === 0 ? fallback.line : this.lines.linePos(end - 1).line;
  }

  /** The position of `key` inside the map `node`, or `fallback`. */
  pairPos(node: Node | null | undefined, key: string, fallback: SourcePos): SourcePos {
    if (!isMap(node)) return fallback;
    const pair = node.items.find((p) => keyText(p.key) === key);
    return pair ? this.pos(pair.key as Node, fallback) : fallback;
  }
}

/** A YAML map as JS values; errors on anything but a map. */
export function mapOf(node: Node | null | undefined, pos: SourcePos, what: string): Map<string, unknown> {
  if (!isMap(node)) throw new DqSyntaxError(pos, `"${what}" must hold a map of keys`);
  const out = new Map<string, unknown>();
  for (const p of node.items) {
    out.set(keyText(p.key), (p.value as Node | null)?.toJSON?.() ?? (isScalar(p.value) ? p.value.value : null));
  }
  return out;
}

export function mapKeys(node: Node | null | undefined): string[] {
  if (!isMap(node)) return [];
  return node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
}

/** A list of strings or numbers (`valid values`, `missing values`). */
export function valueList(value: unknown, pos: SourcePos, key: string): (string | number)[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' && typeof v !== 'number')) {
    throw new DqSyntaxError(pos, `"${key}" must be a list of strings or numbers`);
  }
  return value as (string | number)[];
}
