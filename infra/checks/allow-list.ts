/**
 * Findings of the template checks that are known to be wrong about this stack, each with the
 * reason it is safe. An entry matches by kind, resource type and message; an entry that matches
 * nothing in any checked template is itself reported, so the list never outlives its reason.
 */
import type { Finding, FindingKind } from './template.js';

export interface AllowedFinding {
  readonly kind: FindingKind;
  /** Type of the resource holding the finding. */
  readonly resourceType: string;
  readonly message: RegExp;
  readonly reason: string;
}

export const ALLOWED_FINDINGS: readonly AllowedFinding[] = [
  {
    kind: 'unknown-attribute',
    resourceType: 'AWS::SecretsManager::RotationSchedule',
    message: /^AWS::Serverless::Application has no attribute Outputs\.RotationLambdaARN\b/,
    reason:
      'CDK’s RDS rotation (addRotationSingleUser/MultiUser) deploys the rotation function from the Serverless ' +
      'Application Repository as an AWS::Serverless::Application. The SAM transform (declared in the template) turns ' +
      'it into a nested AWS::CloudFormation::Stack, whose `Outputs.<Name>` attributes are the nested template’s ' +
      'outputs: they exist at deploy time but no specification can list them. RotationLambdaARN is the documented ' +
      'output of the SecretsManagerRDSPostgreSQLRotation*User applications.',
  },
];

export interface Screened {
  readonly findings: readonly Finding[];
  readonly allowed: readonly { readonly finding: Finding; readonly reason: string }[];
}

/** Splits findings into those the allow-list explains and the rest. */
export function screen(
  findings: readonly Finding[],
  allowList: readonly AllowedFinding[] = ALLOWED_FINDINGS,
): Screened {
  const out: Finding[] = [];
  const allowed: { finding: Finding; reason: string }[] = [];
  for (const f of findings) {
    const entry = allowList.find(
      (a) => a.kind === f.kind && a.resourceType === f.resourceType && a.message.test(f.message),
    );
    if (entry) allowed.push({ finding: f, reason: entry.reason });
    else out.push(f);
  }
  return { findings: out, allowed };
}

/** Entries that explained nothing in any of the screened templates. */
export function unusedEntries(
  screened: readonly Screened[],
  allowList: readonly AllowedFinding[] = ALLOWED_FINDINGS,
): AllowedFinding[] {
  return allowList.filter((a) => !screened.some((s) => s.allowed.some((x) => x.reason === a.reason)));
}
