/**
 * Checks a synthesized template against the CloudFormation resource specification CDK itself is
 * generated from (`@aws-cdk/aws-service-spec`): resource types, property names, property types
 * (nested property types and lists included), required properties, allowed values where the
 * specification lists them, and every `Fn::GetAtt` attribute and `Ref` target.
 *
 * Intrinsic functions are resolved only as far as their result's type: `Ref` to a parameter has
 * the parameter's type, `Fn::GetAtt` the attribute's type, `Fn::Join`/`Fn::Sub` are strings,
 * `Fn::If` is checked branch by branch, and anything unknowable (`Fn::FindInMap`, a custom
 * resource's attribute) is accepted as any type. Scalars are coerced as CloudFormation does: a
 * number or boolean is accepted for a string, a numeric string for a number, "true"/"false" for a
 * boolean.
 *
 * Nothing here names a resource type the stack uses: every type is looked up in the specification.
 */
import type { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { type CfnTemplate, type Finding, type FindingKind, intrinsicName, isRecord } from './template.js';

type SpecDatabase = ReturnType<typeof loadAwsServiceSpecSync>;

/** The parts of the specification's types the check reads (structural, so no deep imports). */
interface SpecPropertyType {
  readonly type: string;
  readonly element?: SpecPropertyType;
  readonly types?: readonly SpecPropertyType[];
  readonly reference?: { readonly $ref: string };
  readonly allowedValues?: readonly (string | number)[];
}
interface SpecProperty {
  readonly type: SpecPropertyType;
  readonly previousTypes?: readonly SpecPropertyType[];
  readonly required?: boolean;
}
interface SpecResource {
  readonly cloudFormationType: string;
  readonly properties: Record<string, SpecProperty>;
  readonly attributes: Record<string, { readonly type: SpecPropertyType }>;
  readonly cloudFormationTransform?: string;
}

/** The type of a value once intrinsics are resolved as far as the check needs. */
type Resolved =
  | { readonly kind: 'string' | 'number' | 'boolean' | 'object' | 'null' | 'any' }
  | { readonly kind: 'array'; readonly element: Resolved };

const ANY: Resolved = { kind: 'any' };
const STRING: Resolved = { kind: 'string' };
const STRINGS: Resolved = { kind: 'array', element: STRING };

const RESOURCE_KEYS = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Metadata',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'UpdatePolicy',
  'CreationPolicy',
]);
const DELETION_POLICIES = new Set(['Delete', 'Retain', 'Snapshot', 'RetainExceptOnCreate']);
const PSEUDO_PARAMETERS: Record<string, Resolved> = {
  'AWS::AccountId': STRING,
  'AWS::NotificationARNs': STRINGS,
  'AWS::NoValue': ANY,
  'AWS::Partition': STRING,
  'AWS::Region': STRING,
  'AWS::StackId': STRING,
  'AWS::StackName': STRING,
  'AWS::URLSuffix': STRING,
};

/** Custom resources: any property but ServiceToken, any attribute. */
function isCustomType(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

/** The resource specification, loaded once (about 2 s and 180 MB) and indexed by type. */
export class ResourceSpec {
  private readonly byType = new Map<string, SpecResource | undefined>();
  constructor(private readonly db: SpecDatabase) {}

  resource(type: string): SpecResource | undefined {
    if (!this.byType.has(type)) {
      const found = this.db.lookup('resource', 'cloudFormationType', 'equals', type);
      this.byType.set(type, found.length === 1 ? (found[0] as unknown as SpecResource) : undefined);
    }
    return this.byType.get(type);
  }

  typeDefinition(ref: string): { readonly name: string; readonly properties: Record<string, SpecProperty> } {
    return this.db.get('typeDefinition', ref) as unknown as {
      name: string;
      properties: Record<string, SpecProperty>;
    };
  }
}

/** Loads the specification shipped in the package. */
export async function loadResourceSpec(): Promise<ResourceSpec> {
  const { loadAwsServiceSpec } = await import('@aws-cdk/aws-service-spec');
  return new ResourceSpec(await loadAwsServiceSpec());
}

interface Where {
  readonly resource: string;
  readonly resourceType: string;
}

/** Walks one template; every finding goes to `out`. */
class TemplateWalker {
  readonly out: Finding[] = [];
  constructor(
    private readonly spec: ResourceSpec,
    private readonly template: CfnTemplate,
  ) {}

  private report(where: Where, path: string, kind: FindingKind, message: string): void {
    this.out.push({ resource: where.resource, resourceType: where.resourceType, path, kind, message });
  }

  run(): Finding[] {
    for (const [id, resource] of Object.entries(this.template.Resources ?? {})) this.checkResource(id, resource);
    for (const [id, output] of Object.entries(this.template.Outputs ?? {})) {
      this.resolve({ resource: `Outputs.${id}`, resourceType: 'Output' }, 'Value', output.Value);
    }
    return this.out;
  }

  private checkResource(id: string, resource: Record<string, unknown>): void {
    const type = String(resource.Type);
    const where = { resource: id, resourceType: type };
    for (const key of Object.keys(resource)) {
      if (!RESOURCE_KEYS.has(key)) this.report(where, key, 'bad-resource-key', `unknown resource attribute ${key}`);
    }
    for (const key of ['DeletionPolicy', 'UpdateReplacePolicy'] as const) {
      const v = resource[key];
      if (v !== undefined && !DELETION_POLICIES.has(String(v))) {
        this.report(where, key, 'not-allowed-value', `${String(v)} is not one of ${[...DELETION_POLICIES].join(', ')}`);
      }
    }
    this.checkDependsOn(where, resource.DependsOn);
    const props = isRecord(resource.Properties) ? resource.Properties : {};
    if (isCustomType(type)) {
      this.checkCustom(where, props);
      return;
    }
    const spec = this.spec.resource(type);
    if (!spec) {
      this.report(where, 'Type', 'unknown-resource-type', `${type} is not in the resource specification`);
      return;
    }
    this.checkTransform(where, spec);
    this.checkObject(where, 'Properties', props, spec.properties);
  }

  /** SAM types (AWS::Serverless::*) exist only when the template declares their transform. */
  private checkTransform(where: Where, spec: SpecResource): void {
    const needed = spec.cloudFormationTransform;
    if (!needed) return;
    const declared = this.template.Transform;
    const list = Array.isArray(declared) ? declared : [declared];
    if (!list.includes(needed)) {
      this.report(where, 'Type', 'missing-transform', `${where.resourceType} needs Transform ${needed}`);
    }
  }

  private checkDependsOn(where: Where, dependsOn: unknown): void {
    if (dependsOn === undefined) return;
    const list = Array.isArray(dependsOn) ? dependsOn : [dependsOn];
    for (const dep of list) {
      if (typeof dep !== 'string' || !this.template.Resources[dep]) {
        this.report(where, 'DependsOn', 'unresolved-reference', `DependsOn ${String(dep)}: no such resource`);
      }
    }
  }

  private checkCustom(where: Where, props: Record<string, unknown>): void {
    if (props.ServiceToken === undefined) {
      this.report(where, 'Properties.ServiceToken', 'missing-required', 'a custom resource needs a ServiceToken');
    }
    for (const [key, value] of Object.entries(props)) this.resolve(where, `Properties.${key}`, value);
  }

  /** Properties of a resource or of a property type: names known, required present, values typed. */
  private checkObject(where: Where, path: string, value: Record<string, unknown>, spec: Record<string, SpecProperty>) {
    for (const [name, p] of Object.entries(spec)) {
      if (p.required && value[name] === undefined) {
        this.report(where, `${path}.${name}`, 'missing-required', `required property ${name} is missing`);
      }
    }
    for (const [name, v] of Object.entries(value)) {
      const p = spec[name];
      if (!p) {
        const near = nearest(name, Object.keys(spec));
        const hint = near ? ` (did you mean ${near}?)` : '';
        this.report(where, `${path}.${name}`, 'unknown-property', `${name} is not a property here${hint}`);
        continue;
      }
      this.checkTyped(where, `${path}.${name}`, v, [p.type, ...(p.previousTypes ?? [])]);
    }
  }

  /** A value against one of a property's types (its current one, or one it had before). */
  private checkTyped(where: Where, path: string, value: unknown, types: readonly SpecPropertyType[]): void {
    let best: Finding[] | undefined;
    for (const t of types) {
      const trial = new TemplateWalker(this.spec, this.template);
      trial.checkValue(where, path, value, t);
      if (trial.out.length === 0) return;
      if (!best || trial.out.length < best.length) best = trial.out;
    }
    this.out.push(...(best ?? []));
  }

  private checkValue(where: Where, path: string, value: unknown, type: SpecPropertyType): void {
    const fn = intrinsicName(value);
    if (fn === 'Fn::If') {
      this.checkIf(where, path, value as Record<string, unknown>, type);
      return;
    }
    if (fn) {
      const resolved = this.resolve(where, path, value);
      if (!accepts(type, resolved)) {
        this.report(
          where,
          path,
          'wrong-type',
          `${fn} gives ${describe(resolved)}, expected ${this.describeSpec(type)}`,
        );
      }
      return;
    }
    switch (type.type) {
      case 'union':
        this.checkTyped(where, path, value, type.types ?? []);
        return;
      case 'array':
        this.checkList(where, path, value, type);
        return;
      case 'map':
        this.checkMap(where, path, value, type);
        return;
      case 'ref':
        this.checkRef(where, path, value, type);
        return;
      case 'tag':
        this.checkTag(where, path, value);
        return;
      default:
        this.checkScalar(where, path, value, type);
    }
  }

  private checkIf(where: Where, path: string, value: Record<string, unknown>, type: SpecPropertyType): void {
    const args = value['Fn::If'];
    if (!Array.isArray(args) || args.length !== 3 || typeof args[0] !== 'string') {
      this.report(where, path, 'bad-intrinsic', 'Fn::If takes [condition, then, else]');
      return;
    }
    if (!this.template.Conditions?.[args[0]]) {
      this.report(where, path, 'unresolved-reference', `Fn::If condition ${args[0]} is not in Conditions`);
    }
    for (const branch of args.slice(1)) {
      if (isRecord(branch) && branch.Ref === 'AWS::NoValue') continue;
      this.checkValue(where, path, branch, type);
    }
  }

  private checkList(where: Where, path: string, value: unknown, type: SpecPropertyType): void {
    if (!Array.isArray(value)) {
      this.report(
        where,
        path,
        'wrong-type',
        `expected a list of ${this.describeSpec(type.element)}, got ${kindOf(value)}`,
      );
      return;
    }
    value.forEach((item, i) => {
      if (type.element) this.checkValue(where, `${path}[${i}]`, item, type.element);
    });
  }

  private checkMap(where: Where, path: string, value: unknown, type: SpecPropertyType): void {
    if (!isRecord(value)) {
      this.report(where, path, 'wrong-type', `expected a map, got ${kindOf(value)}`);
      return;
    }
    for (const [k, v] of Object.entries(value))
      if (type.element) this.checkValue(where, `${path}.${k}`, v, type.element);
  }

  private checkRef(where: Where, path: string, value: unknown, type: SpecPropertyType): void {
    const def = this.spec.typeDefinition(type.reference?.$ref ?? '');
    if (!isRecord(value)) {
      this.report(where, path, 'wrong-type', `expected a ${def.name} object, got ${kindOf(value)}`);
      return;
    }
    this.checkObject(where, path, value, def.properties);
  }

  private checkTag(where: Where, path: string, value: unknown): void {
    if (!isRecord(value)) {
      this.report(where, path, 'wrong-type', `expected a tag {Key, Value}, got ${kindOf(value)}`);
      return;
    }
    for (const key of ['Key', 'Value']) {
      if (value[key] === undefined) this.report(where, `${path}.${key}`, 'missing-required', `a tag needs ${key}`);
    }
  }

  private checkScalar(where: Where, path: string, value: unknown, type: SpecPropertyType): void {
    const resolved = literalType(value);
    if (!accepts(type, resolved, value)) {
      this.report(where, path, 'wrong-type', `expected ${this.describeSpec(type)}, got ${kindOf(value)}`);
      return;
    }
    const allowed = type.allowedValues;
    if (allowed && allowed.length > 0 && !allowed.some((a) => String(a) === String(value))) {
      this.report(where, path, 'not-allowed-value', `${String(value)} is not one of ${allowed.join(', ')}`);
    }
  }

  /** The type an intrinsic (or literal) yields; reports references that do not exist. */
  resolve(where: Where, path: string, value: unknown): Resolved {
    const fn = intrinsicName(value);
    if (!fn) {
      if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) this.resolve(where, `${path}[${i}]`, v);
        return { kind: 'array', element: ANY };
      }
      if (isRecord(value)) {
        for (const [k, v] of Object.entries(value)) this.resolve(where, `${path}.${k}`, v);
      }
      return literalType(value);
    }
    const arg = (value as Record<string, unknown>)[fn];
    switch (fn) {
      case 'Ref':
        return this.resolveRef(where, path, arg);
      case 'Fn::GetAtt':
        return this.resolveGetAtt(where, path, arg);
      case 'Fn::Join':
      case 'Fn::Sub':
      case 'Fn::Base64':
      case 'Fn::ToJsonString':
        this.resolveArgs(where, path, fn, arg);
        return STRING;
      case 'Fn::Split':
      case 'Fn::GetAZs':
      case 'Fn::Cidr':
        this.resolveArgs(where, path, fn, arg);
        return STRINGS;
      case 'Fn::Length':
        this.resolveArgs(where, path, fn, arg);
        return { kind: 'number' };
      case 'Fn::Select':
        return this.resolveSelect(where, path, arg);
      case 'Fn::If': {
        const args = Array.isArray(arg) ? arg : [];
        const branches = args.slice(1).map((b) => this.resolve(where, path, b));
        return branches[0] ?? ANY;
      }
      case 'Fn::ImportValue':
      case 'Fn::FindInMap':
      case 'Fn::Equals':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Fn::Not':
        this.resolveArgs(where, path, fn, arg);
        return ANY;
      default:
        this.report(where, path, 'bad-intrinsic', `unknown intrinsic function ${fn}`);
        return ANY;
    }
  }

  private resolveArgs(where: Where, path: string, fn: string, arg: unknown): void {
    if (fn === 'Fn::Join' && !(Array.isArray(arg) && arg.length === 2 && typeof arg[0] === 'string')) {
      this.report(where, path, 'bad-intrinsic', 'Fn::Join takes [delimiter, [values]]');
    }
    if (fn === 'Fn::Sub' && typeof arg === 'string') {
      // ${Name} and ${Name.Attr} inside the string are references too.
      for (const m of arg.matchAll(/\$\{([^!}][^}]*)\}/g)) {
        const ref = m[1] as string;
        if (ref.includes('.')) this.resolveGetAtt(where, path, ref);
        else this.resolveRef(where, path, ref);
      }
      return;
    }
    this.resolve(where, path, arg);
  }

  private resolveSelect(where: Where, path: string, arg: unknown): Resolved {
    if (!Array.isArray(arg) || arg.length !== 2) {
      this.report(where, path, 'bad-intrinsic', 'Fn::Select takes [index, list]');
      return ANY;
    }
    const list = this.resolve(where, path, arg[1]);
    return list.kind === 'array' ? list.element : ANY;
  }

  private resolveRef(where: Where, path: string, name: unknown): Resolved {
    if (typeof name !== 'string') {
      this.report(where, path, 'bad-intrinsic', 'Ref takes a name');
      return ANY;
    }
    const pseudo = PSEUDO_PARAMETERS[name];
    if (pseudo) return pseudo;
    const param = this.template.Parameters?.[name];
    if (param) return parameterType(param.Type);
    if (this.template.Resources[name]) return STRING;
    this.report(where, path, 'unresolved-reference', `Ref ${name}: no such parameter or resource`);
    return ANY;
  }

  private resolveGetAtt(where: Where, path: string, arg: unknown): Resolved {
    const [target, ...attrParts] =
      typeof arg === 'string' ? arg.split('.') : Array.isArray(arg) ? arg.map((a) => String(a)) : [];
    const attribute = attrParts.join('.');
    if (!target || !attribute) {
      this.report(where, path, 'bad-intrinsic', 'Fn::GetAtt takes [resource, attribute]');
      return ANY;
    }
    const resource = this.template.Resources[target];
    if (!resource) {
      this.report(where, path, 'unresolved-reference', `Fn::GetAtt ${target}.${attribute}: no such resource`);
      return ANY;
    }
    if (isCustomType(resource.Type)) return ANY;
    const spec = this.spec.resource(resource.Type);
    if (!spec) return ANY; // already reported as an unknown type
    const attr = spec.attributes[attribute];
    if (!attr) {
      this.report(
        where,
        path,
        'unknown-attribute',
        `${resource.Type} has no attribute ${attribute} (has ${Object.keys(spec.attributes).join(', ')})`,
      );
      return ANY;
    }
    return specToResolved(attr.type);
  }

  private describeSpec(type: SpecPropertyType | undefined): string {
    if (!type) return 'any';
    if (type.type === 'ref') return this.spec.typeDefinition(type.reference?.$ref ?? '').name;
    if (type.type === 'array') return `list of ${this.describeSpec(type.element)}`;
    if (type.type === 'union') return (type.types ?? []).map((t) => this.describeSpec(t)).join(' or ');
    return type.type;
  }
}

function parameterType(type: string): Resolved {
  if (type === 'Number') return { kind: 'number' };
  if (type.startsWith('List<') || type === 'CommaDelimitedList' || type.includes('::List<')) return STRINGS;
  return STRING;
}

function specToResolved(type: SpecPropertyType): Resolved {
  switch (type.type) {
    case 'string':
    case 'date-time':
      return STRING;
    case 'integer':
    case 'number':
      return { kind: 'number' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'array':
      return { kind: 'array', element: type.element ? specToResolved(type.element) : ANY };
    case 'ref':
    case 'map':
      return { kind: 'object' };
    default:
      return ANY;
  }
}

function literalType(value: unknown): Resolved {
  if (value === null) return { kind: 'null' };
  if (Array.isArray(value)) return { kind: 'array', element: ANY };
  switch (typeof value) {
    case 'string':
      return STRING;
    case 'number':
      return { kind: 'number' };
    case 'boolean':
      return { kind: 'boolean' };
    case 'object':
      return { kind: 'object' };
    default:
      return ANY;
  }
}

/**
 * Whether a resolved value fits a spec type, with CloudFormation's scalar coercions. `literal` is
 * the literal value when there is one, to tell "60" (fits an integer) from "sixty".
 */
function accepts(type: SpecPropertyType, got: Resolved, literal?: unknown): boolean {
  if (got.kind === 'any') return true;
  switch (type.type) {
    case 'string':
    case 'date-time':
      return got.kind === 'string' || got.kind === 'number' || got.kind === 'boolean';
    case 'integer':
    case 'number': {
      if (got.kind === 'number') return type.type === 'number' || literal === undefined || Number.isInteger(literal);
      if (got.kind !== 'string') return false;
      if (literal === undefined) return true;
      const n = Number(literal);
      return String(literal).trim() !== '' && Number.isFinite(n) && (type.type === 'number' || Number.isInteger(n));
    }
    case 'boolean':
      return (
        got.kind === 'boolean' ||
        (got.kind === 'string' && (literal === undefined || /^(true|false)$/i.test(String(literal))))
      );
    case 'json':
      return got.kind === 'object' || got.kind === 'string' || got.kind === 'array';
    case 'array':
      return got.kind === 'array';
    case 'map':
    case 'ref':
    case 'tag':
      return got.kind === 'object';
    case 'union':
      return (type.types ?? []).some((t) => accepts(t, got, literal));
    case 'null':
      return got.kind === 'null';
    default:
      return true;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function describe(r: Resolved): string {
  return r.kind === 'array' ? `a list of ${describe(r.element)}` : r.kind;
}

/** The closest known name to a misspelled one (edit distance at most 3), for the message. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d <= 3 && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/** Every schema finding of a template (before the allow-list). */
export function checkTemplateSchema(spec: ResourceSpec, template: CfnTemplate): Finding[] {
  return new TemplateWalker(spec, template).run();
}
