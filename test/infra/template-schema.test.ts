/**
 * Both targets' templates against the CloudFormation resource specification and this stack's own
 * value rules (infra/checks, also `npm run check:templates`), plus negative controls: a copy of
 * the real template with one defect planted must produce exactly the finding that names it.
 *
 * The specification is loaded once for the file (about 2 s and 180 MB).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_FINDINGS, type Screened, unusedEntries } from '#infra/checks/allow-list.js';
import { checkTemplate } from '#infra/checks/check.js';
import { checkTemplateSchema, loadResourceSpec, type ResourceSpec } from '#infra/checks/schema.js';
import { type CfnTemplate, type Finding, formatFinding, type TemplateResource } from '#infra/checks/template.js';
import { checkTemplateValues, referencedResource } from '#infra/checks/value-rules.js';
import { synthesize } from './synth.js';

let spec: ResourceSpec;
const templates: Record<'aws' | 'localstack', CfnTemplate> = {} as Record<'aws' | 'localstack', CfnTemplate>;
const results: Screened[] = [];

beforeAll(async () => {
  spec = await loadResourceSpec();
  for (const target of ['aws', 'localstack'] as const) {
    templates[target] = synthesize({ context: { target }, bundle: false }).json as unknown as CfnTemplate;
  }
}, 240_000);

/** A deep copy of the aws template, and the first resource of `type` that has `property`. */
function plant(type: string, property?: string): { template: CfnTemplate; id: string; resource: TemplateResource } {
  const template = structuredClone(templates.aws) as CfnTemplate;
  for (const target of [template, structuredClone(templates.localstack) as CfnTemplate]) {
    const found = Object.entries(target.Resources).find(
      ([, r]) => r.Type === type && (property === undefined || r.Properties?.[property] !== undefined),
    );
    if (found) return { template: target, id: found[0], resource: found[1] };
  }
  throw new Error(`no ${type} with ${property} in either template`);
}

function props(r: TemplateResource): Record<string, unknown> {
  return r.Properties as Record<string, unknown>;
}

function only(findings: readonly Finding[], id: string): string[] {
  return findings.filter((f) => f.resource === id).map((f) => `${f.kind} ${f.path}: ${f.message}`);
}

describe('templates against the resource specification', () => {
  for (const target of ['aws', 'localstack'] as const) {
    it(`${target}: every finding is fixed or allow-listed with a reason`, () => {
      const result = checkTemplate(spec, templates[target]);
      results.push(result);
      expect(result.findings.map(formatFinding)).toEqual([]);
      for (const a of result.allowed) expect(a.reason.length).toBeGreaterThan(40);
    });
  }

  it('every allow-list entry explains at least one finding in one of the templates', () => {
    expect(results).toHaveLength(2);
    expect(unusedEntries(results, ALLOWED_FINDINGS).map((e) => e.message.source)).toEqual([]);
  });

  it('checks every resource: each type of both templates is in the specification or a custom resource', () => {
    const types = new Set(
      Object.values({ ...templates.aws.Resources, ...templates.localstack.Resources }).map((r) => r.Type),
    );
    for (const type of types) {
      expect(type.startsWith('Custom::') || spec.resource(type) !== undefined, type).toBe(true);
    }
  });
});

describe('negative controls: a planted defect is reported', () => {
  it('a misspelled property, with the name it was meant to be', () => {
    const { template, id, resource } = plant('AWS::Lambda::EventSourceMapping', 'BatchSize');
    const p = props(resource);
    p.BatchSzie = p.BatchSize;
    delete p.BatchSize;
    expect(only(checkTemplateSchema(spec, template), id)).toEqual([
      'unknown-property Properties.BatchSzie: BatchSzie is not a property here (did you mean BatchSize?)',
    ]);
  });

  it('a misspelled property inside a nested property type', () => {
    const { template, id, resource } = plant('AWS::Lambda::EventSourceMapping', 'DestinationConfig');
    const onFailure = (props(resource).DestinationConfig as { OnFailure: Record<string, unknown> }).OnFailure;
    onFailure.Destinaton = onFailure.Destination;
    delete onFailure.Destination;
    expect(only(checkTemplateSchema(spec, template), id)).toEqual([
      'unknown-property Properties.DestinationConfig.OnFailure.Destinaton: Destinaton is not a property here (did you mean Destination?)',
    ]);
  });

  it('a wrong type: text for an integer, a scalar for a list, an object in a list of strings', () => {
    const { template, id, resource } = plant('AWS::Lambda::EventSourceMapping', 'FunctionResponseTypes');
    const p = props(resource);
    p.BatchSize = 'five hundred';
    p.FunctionResponseTypes = 'ReportBatchItemFailures';
    const findings = only(checkTemplateSchema(spec, template), id);
    expect(findings).toContain('wrong-type Properties.BatchSize: expected integer, got string "five hundred"');
    expect(findings).toContain(
      'wrong-type Properties.FunctionResponseTypes: expected a list of string, got string "ReportBatchItemFailures"',
    );
    p.FunctionResponseTypes = [{ Type: 'ReportBatchItemFailures' }];
    expect(only(checkTemplateSchema(spec, template), id)).toContain(
      'wrong-type Properties.FunctionResponseTypes[0]: expected string, got an object',
    );
  });

  it('coerces as CloudFormation does: a numeric string fits an integer, a number fits a string', () => {
    const { template, id, resource } = plant('AWS::Lambda::EventSourceMapping', 'BatchSize');
    props(resource).BatchSize = '500';
    expect(only(checkTemplateSchema(spec, template), id)).toEqual([]);
  });

  it('a missing required property', () => {
    const { template, id, resource } = plant('AWS::Lambda::Function', 'Role');
    delete props(resource).Role;
    expect(only(checkTemplateSchema(spec, template), id)).toEqual([
      'missing-required Properties.Role: required property Role is missing',
    ]);
  });

  it('an Fn::GetAtt attribute the resource type does not have, and a reference to nothing', () => {
    const { template, id, resource } = plant('AWS::Lambda::EventSourceMapping', 'EventSourceArn');
    const p = props(resource);
    const [target] = (p.EventSourceArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    p.EventSourceArn = { 'Fn::GetAtt': [target, 'Url'] };
    p.FunctionName = { Ref: 'NoSuchFunction' };
    const findings = only(checkTemplateSchema(spec, template), id);
    expect(findings.some((f) => f.startsWith(`unknown-attribute Properties.EventSourceArn: `))).toBe(true);
    expect(findings).toContain(
      'unresolved-reference Properties.FunctionName: Ref NoSuchFunction: no such parameter or resource',
    );
  });

  it('an intrinsic whose result has the wrong type (a list where a string goes)', () => {
    const { template, id, resource } = plant('AWS::Lambda::Function', 'Handler');
    props(resource).Handler = { 'Fn::GetAZs': '' };
    expect(only(checkTemplateSchema(spec, template), id)).toEqual([
      'wrong-type Properties.Handler: Fn::GetAZs gives a list of string, expected string',
    ]);
  });

  it('an unknown resource type and a value outside the specification’s allowed values', () => {
    const { template, id, resource } = plant('AWS::Logs::LogGroup', 'RetentionInDays');
    props(resource).RetentionInDays = 31;
    template.Resources.Typo = { Type: 'AWS::Lambda::Funtion', Properties: {} };
    const findings = checkTemplateSchema(spec, template);
    expect(only(findings, id)).toEqual([
      expect.stringMatching(/^not-allowed-value Properties\.RetentionInDays: 31 is not one of 1, 3, 5/),
    ]);
    expect(only(findings, 'Typo')).toEqual([
      'unknown-resource-type Type: AWS::Lambda::Funtion is not in the resource specification',
    ]);
  });
});

describe('negative controls: value rules the specification cannot express', () => {
  it('a Lambda runtime name that does not exist, or a deprecated one', () => {
    const { template, id, resource } = plant('AWS::Lambda::Function', 'Runtime');
    props(resource).Runtime = 'nodejs24';
    expect(only(checkTemplateValues(template), id)).toEqual([
      expect.stringMatching(/^value-rule Properties\.Runtime: nodejs24 is not a supported runtime/),
    ]);
    props(resource).Runtime = 'nodejs20.x';
    expect(only(checkTemplateValues(template), id)).toHaveLength(1);
  });

  it('a Kinesis starting position that does not exist and settings out of range', () => {
    const { template, id, resource } = plant('AWS::Lambda::EventSourceMapping', 'StartingPosition');
    const p = props(resource);
    p.StartingPosition = 'OLDEST';
    p.ParallelizationFactor = 11;
    p.MaximumRecordAgeInSeconds = 30;
    p.BatchSize = 20_000;
    expect(only(checkTemplateValues(template), id)).toEqual([
      'value-rule Properties.BatchSize: 20000 is outside 1..10000',
      'value-rule Properties.StartingPosition: OLDEST is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP',
      'value-rule Properties.ParallelizationFactor: 11 is outside 1..10',
      'value-rule Properties.MaximumRecordAgeInSeconds: 30 is outside 60..604800 or -1',
    ]);
  });

  it('an SQS source whose queue hides messages for less time than the function may run', () => {
    const template = structuredClone(templates.aws) as CfnTemplate;
    const sqsMapping = Object.entries(template.Resources).find(
      ([, r]) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' &&
        referencedResource(template, r.Properties?.EventSourceArn)?.Type === 'AWS::SQS::Queue',
    );
    if (!sqsMapping) throw new Error('no SQS event source mapping');
    const [id, mapping] = sqsMapping;
    const queue = referencedResource(template, props(mapping).EventSourceArn) as TemplateResource;
    props(queue).VisibilityTimeout = 1;
    expect(only(checkTemplateValues(template), id)).toEqual([
      expect.stringMatching(
        /^value-rule Properties\.EventSourceArn: queue visibility timeout 1 s < function timeout \d+ s$/,
      ),
    ]);
  });

  it('a reserved environment variable and a schedule expression with the wrong unit', () => {
    const fn = plant('AWS::Lambda::Function', 'Environment');
    (props(fn.resource).Environment as { Variables: Record<string, string> }).Variables.AWS_REGION = 'eu-west-1';
    expect(only(checkTemplateValues(fn.template), fn.id)).toEqual([
      'value-rule Properties.Environment.Variables.AWS_REGION: reserved by Lambda',
    ]);
    const rule = plant('AWS::Events::Rule', 'ScheduleExpression');
    props(rule.resource).ScheduleExpression = 'rate(1 minutes)';
    expect(only(checkTemplateValues(rule.template), rule.id)).toEqual([
      'value-rule Properties.ScheduleExpression: rate(1 minutes): use "1 minute" or "N minutes"',
    ]);
  });
});
