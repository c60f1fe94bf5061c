/**
 * How deployed names are formed, in one place: account-wide names (functions, the dashboard, the
 * database instance) carry the stack name, so a second copy deployed with `-c stackName=...`
 * never collides with the first; construct ids are the topology ids in PascalCase.
 */
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** `<stack name>-<suffix>`, e.g. `IotFirst-iot-validator` or `IotFirst-pipeline`. */
export function deployedName(scope: IConstruct, suffix: string): string {
  return `${Stack.of(scope).stackName}-${suffix}`;
}

/** Construct id of a topology id: `dlqDrainer` → `DlqDrainer`. */
export function pascal(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}
