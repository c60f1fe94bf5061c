/**
 * Deployment settings read from CDK context (`-c key=value` or `cdk.json`).
 *
 * Only what differs between deployments lives here; everything the pipeline's semantics depend
 * on (names, batch sizes, retries, schedules) comes from `src/topology.ts`, so the two targets
 * and the embedded stack cannot drift apart.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';

export type Target = 'aws' | 'localstack';

const TARGETS: readonly Target[] = ['aws', 'localstack'];

export interface DatabaseSettings {
  /** RDS instance class, e.g. `t4g.micro`; a small fleet needs no more. */
  readonly instanceType: string;
  readonly allocatedStorageGb: number;
  readonly multiAz: boolean;
  /** Automated backup retention in days; 0 turns automated backups off. */
  readonly backupRetentionDays: number;
  readonly deletionProtection: boolean;
  /** Put an RDS Proxy in front of the instance and point the functions at it (DB_HOST_OVERRIDE). */
  readonly rdsProxy: boolean;
}

export interface DeploymentSettings {
  readonly target: Target;
  /** Days each function's log group keeps its events. */
  readonly logRetentionDays: number;
  /**
   * What `cdk destroy` does with stateful resources (database, log groups, queues' data).
   * `destroy` suits a trial; `retain` keeps data a real deployment must not lose by accident.
   */
  readonly removalPolicy: RemovalPolicy;
  readonly database: DatabaseSettings;
  /**
   * An operator's own SNS topic the alarms notify as well (an existing ops channel); the stack's
   * alert topic gets every alarm either way.
   */
  readonly alarmTopicArn?: string | undefined;
  /** E-mail address subscribed to the alert topic (alarms and reading alerts); none when absent. */
  readonly alertEmail?: string | undefined;
  readonly api: ApiSettings;
  /** Share of rejected records (rejected ÷ received, over 5 minutes) at which an alarm fires. */
  readonly rejectionRateAlarm: number;
}

export interface ApiSettings {
  /** Stage-wide steady request rate, requests per second, before API Gateway answers 429. */
  readonly throttleRateLimit: number;
  /** Stage-wide burst (token bucket size) above the steady rate. */
  readonly throttleBurstLimit: number;
  /**
   * Set API Gateway's account-wide CloudWatch Logs role (one per account and region, needed for
   * access and execution logs). Turn off when the account already has one, so this stack does
   * not replace it.
   */
  readonly accountLogRole: boolean;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function bool(node: Node, key: string, fallback: boolean): boolean {
  const value = text(node, key);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new SettingsError(`Context ${key} must be true or false, got ${value}`);
}

function int(node: Node, key: string, fallback: number, min: number): number {
  const value = text(node, key);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new SettingsError(`Context ${key} must be an integer >= ${min}, got ${value}`);
  return n;
}

function fraction(node: Node, key: string, fallback: number): number {
  const value = text(node, key);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1)
    throw new SettingsError(`Context ${key} must be a number in (0, 1], got ${value}`);
  return n;
}

/** Deliberately loose (SNS confirms the address by mail); catches a missing `@` or stray spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function email(node: Node, key: string): string | undefined {
  const value = text(node, key);
  if (value !== undefined && !EMAIL.test(value))
    throw new SettingsError(`Context ${key} must be an e-mail address, got ${value}`);
  return value;
}

/**
 * Reads the settings from context. Unknown targets fail the synth with the accepted values, so a
 * typo (`-c target=localstak`) never silently deploys the AWS variant.
 */
export function settingsFromContext(node: Node): DeploymentSettings {
  const target = text(node, 'target') ?? 'aws';
  if (!TARGETS.includes(target as Target)) {
    throw new SettingsError(`Context target must be one of ${TARGETS.join(', ')}, got ${target}`);
  }
  const removal = text(node, 'removalPolicy') ?? 'destroy';
  if (removal !== 'destroy' && removal !== 'retain') {
    throw new SettingsError(`Context removalPolicy must be destroy or retain, got ${removal}`);
  }
  const retain = removal === 'retain';
  return {
    target: target as Target,
    logRetentionDays: int(node, 'logRetentionDays', 30, 1),
    removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    database: {
      instanceType: text(node, 'dbInstanceType') ?? 't4g.micro',
      allocatedStorageGb: int(node, 'dbAllocatedStorageGb', 20, 20),
      multiAz: bool(node, 'dbMultiAz', false),
      backupRetentionDays: int(node, 'dbBackupRetentionDays', 7, 0),
      deletionProtection: bool(node, 'dbDeletionProtection', retain),
      rdsProxy: bool(node, 'rdsProxy', false),
    },
    alarmTopicArn: text(node, 'alarmTopicArn'),
    alertEmail: email(node, 'alertEmail'),
    api: {
      throttleRateLimit: int(node, 'apiThrottleRateLimit', 50, 1),
      throttleBurstLimit: int(node, 'apiThrottleBurstLimit', 100, 1),
      accountLogRole: bool(node, 'apiAccountLogRole', true),
    },
    // The simulated fleet rejects about 37% by design (README); half is well above that.
    rejectionRateAlarm: fraction(node, 'rejectionRateAlarm', 0.5),
  };
}
