/** Thresholds as written on a check line (`< 5`, `between (1 and 2]`) or under `warn:`/`fail:`. */
import { DqSyntaxError } from './errors.js';
import type { ComparisonOp, SourcePos, Threshold } from './model.js';

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const COMPARE = new RegExp(String.raw`^(?<op><=|>=|!=|<>|<|>|=)\s*(?<value>${NUMBER})\s*%?$`);
const BETWEEN = new RegExp(
  String.raw`^(?<not>not\s+)?between\s+(?<open>[\[(]?)\s*(?<low>${NUMBER})\s*%?\s+and\s+(?<high>${NUMBER})\s*%?\s*(?<close>[\])]?)$`,
);

export function parseThreshold(text: string, pos: SourcePos): Threshold {
  const t = text.trim().replace(/\s+/g, ' ');
  const cmp = COMPARE.exec(t)?.groups;
  if (cmp) {
    const op = (cmp.op === '<>' ? '!=' : cmp.op) as ComparisonOp;
    return { kind: 'compare', op, value: Number(cmp.value) };
  }
  const btw = BETWEEN.exec(t)?.groups;
  if (btw) {
    return {
      kind: 'between',
      negated: btw.not !== undefined,
      low: Number(btw.low),
      lowInclusive: btw.open !== '(',
      high: Number(btw.high),
      highInclusive: btw.close !== ')',
    };
  }
  throw new DqSyntaxError(
    pos,
    `unsupported threshold "${text.trim()}" (expected "OP number" with OP in < <= = >= > != <>, or "[not] between a and b")`,
  );
}

/** `when > 0.5` as written under `warn:` / `fail:`. */
export function parseWhen(value: unknown, pos: SourcePos, key: string): Threshold {
  if (typeof value !== 'string' || !/^when\s+/.test(value.trim())) {
    throw new DqSyntaxError(pos, `"${key}:" must be "when <threshold>", e.g. "${key}: when > 0"`);
  }
  return parseThreshold(value.trim().replace(/^when\s+/, ''), pos);
}
