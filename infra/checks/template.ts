/**
 * The shape of a synthesized CloudFormation template as the checks read it, and the finding they
 * report. Kept apart from the checks so the schema check, the value rules and the allow-list share
 * one vocabulary.
 */

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: unknown;
  readonly [key: string]: unknown;
}

export interface CfnTemplate {
  readonly Resources: Record<string, TemplateResource>;
  readonly Parameters?: Record<string, { readonly Type: string; readonly [key: string]: unknown }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Outputs?: Record<string, { readonly Value: unknown; readonly [key: string]: unknown }>;
  readonly [key: string]: unknown;
}

/** What a check found wrong: where, which kind, and a message a person can act on. */
export interface Finding {
  /** Logical id of the resource (or `Outputs.X`, `Parameters.X`, `Template`). */
  readonly resource: string;
  readonly resourceType: string;
  /** Dotted path inside the resource, e.g. `Properties.DestinationConfig.OnFailure.Destination`. */
  readonly path: string;
  readonly kind: FindingKind;
  readonly message: string;
}

export type FindingKind =
  | 'unknown-resource-type'
  | 'unknown-property'
  | 'missing-required'
  | 'wrong-type'
  | 'not-allowed-value'
  | 'unknown-attribute'
  | 'unresolved-reference'
  | 'bad-intrinsic'
  | 'bad-resource-key'
  | 'missing-transform'
  | 'value-rule';

export function formatFinding(f: Finding): string {
  return `${f.kind} ${f.resource} (${f.resourceType}) ${f.path}: ${f.message}`;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A single-key object whose key is `Ref` or starts with `Fn::` (or `Condition`) is an intrinsic. */
export function intrinsicName(v: unknown): string | undefined {
  if (!isRecord(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const key = keys[0] as string;
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}
