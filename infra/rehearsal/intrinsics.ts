/**
 * CloudFormation's intrinsic functions, resolved the way a deployment would, with the values of
 * references supplied by the caller: the cold start gives stand-ins of the right shape, the
 * end-to-end rehearsal the embedded stack's real queue URLs, stream name and secret ARNs.
 */
import { type CfnTemplate, intrinsicName, isRecord } from '../checks/template.js';

/** What `Ref` and `Fn::GetAtt` stand for in one rehearsal. */
export interface References {
  ref(id: string): string;
  getAtt(id: string, attribute: string): string;
}

/** Resolves one value to a string (scalars as they are, other values as JSON). */
export function resolveValue(value: unknown, refs: References): string {
  const fn = intrinsicName(value);
  if (!fn) return typeof value === 'string' ? value : JSON.stringify(value);
  const arg = (value as Record<string, unknown>)[fn];
  if (fn === 'Ref') return refs.ref(String(arg));
  if (fn === 'Fn::GetAtt') {
    const [id, ...attr] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
    return refs.getAtt(String(id), attr.join('.'));
  }
  if (fn === 'Fn::Join' && Array.isArray(arg)) {
    const [sep, parts] = arg as [string, unknown[]];
    return parts.map((p) => resolveValue(p, refs)).join(sep);
  }
  if (fn === 'Fn::Sub' && typeof arg === 'string') {
    return arg.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      const [id = '', ...attr] = name.split('.');
      return attr.length > 0 ? refs.getAtt(id, attr.join('.')) : refs.ref(id);
    });
  }
  throw new Error(`cannot resolve ${fn} for a rehearsal`);
}

/** Resolves every intrinsic inside a property tree (custom resource properties), keeping its shape. */
export function resolveTree(value: unknown, refs: References): unknown {
  if (intrinsicName(value)) return resolveValue(value, refs);
  if (Array.isArray(value)) return value.map((v) => resolveTree(v, refs));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTree(v, refs)]));
  return value;
}

/** The logical id a `Ref` or `Fn::GetAtt` points to, or undefined for anything else. */
export function referencedId(value: unknown): string | undefined {
  const fn = intrinsicName(value);
  const arg = fn ? (value as Record<string, unknown>)[fn] : undefined;
  if (fn === 'Ref') return String(arg);
  if (fn === 'Fn::GetAtt') return Array.isArray(arg) ? String(arg[0]) : String(arg).split('.')[0];
  return undefined;
}

/** A function's `Environment.Variables`, unresolved. */
export function environmentOf(template: CfnTemplate, id: string): Record<string, unknown> {
  const p = template.Resources[id]?.Properties ?? {};
  return isRecord(p.Environment) && isRecord(p.Environment.Variables) ? p.Environment.Variables : {};
}
