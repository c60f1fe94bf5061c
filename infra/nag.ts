/**
 * cdk-nag AwsSolutions acknowledgements. Each one is attached to the narrowest construct that
 * raises it, names the exact finding (`Rule[Finding]`), and is added only in the configuration
 * that raises it (turning multi-AZ on, say, removes the RDS3 acknowledgement), so a new finding
 * anywhere else still fails `cdk synth` and the tests.
 */
import { type CfnElement, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { AwsDatabase, LocalStackDatabase } from './constructs/database.js';
import type { PipelineStack } from './pipeline-stack.js';

const REASONS = {
  vpcEni:
    'Lambda manages the network interfaces of a VPC-attached function with its execution role. The EC2 actions it needs ' +
    '(Create/Describe/DeleteNetworkInterface, DescribeSubnets, Assign/UnassignPrivateIpAddresses) are the ones AWS ' +
    'documents for AWSLambdaVPCAccessExecutionRole; Describe* has no resource-level permissions and Lambda creates the ' +
    'interface before its ARN exists, so "*" is the only working resource. They touch no data: every data permission ' +
    'of this role is a grant on one named stream, queue or secret.',
  providerInvoke:
    "The CDK provider framework's grantInvoke allows lambda:InvokeFunction on the migrations function and on " +
    "'<its ARN>:*', i.e. only that one function's versions and aliases; the framework function invokes nothing else.",
  rdsMultiAz:
    'Single-AZ is the configured choice for a small fleet (half the instance cost). Data is not at risk: storage is ' +
    'encrypted and backed up, and while the instance fails over or is restored the Kinesis stream keeps records ' +
    '(24 h retention) and the event source retries, so ingest lags but loses nothing. Deploy with -c dbMultiAz=true ' +
    'for automatic failover; this acknowledgement is then not added.',
  rdsDeletionProtection:
    'Deletion protection follows the removal policy: with removalPolicy=destroy (a trial deployment) `npm run destroy` ' +
    'must be able to remove the database. With -c removalPolicy=retain or -c dbDeletionProtection=true protection is on ' +
    'and this acknowledgement is not added.',
  rdsDefaultPort:
    'The instance is in isolated subnets without any route to the internet and its security group admits only the ' +
    "pipeline functions' security groups (and the RDS Proxy's); a non-default port hides nothing from those and only " +
    'breaks client defaults. Access is controlled by security groups, forced TLS and per-function users.',
  rdsNoBackups:
    'Automated backups are off only because the deployer asked for it explicitly (-c dbBackupRetentionDays=0), e.g. ' +
    'for a throwaway load test; the default keeps 7 days.',
  localAdminSecretRotation:
    'LocalStack target only: this secret holds the compose PostgreSQL superuser password (IOT_DB_PASSWORD, passed as ' +
    'a NoEcho parameter). Rotating it in Secrets Manager alone would lock the migrations out of the container, and ' +
    'the database is a disposable local one. On AWS the admin secret rotates every 30 days.',
  localUserSecretRotation:
    'LocalStack target only: a per-function login user of a disposable local database on a Docker network; LocalStack ' +
    'has no RDS for a rotation function to act on. On AWS the same secrets rotate every 30 days (multi-user rotation).',
} as const;

function ack(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Adds every acknowledgement the stack needs in its configuration. */
export function acknowledgeFindings(stack: PipelineStack): void {
  const db = stack.database;
  const vpcFunctions = [...Object.values(stack.functions), stack.migrations.handler].filter(
    (f) => f.function.isBoundToVpc,
  );
  for (const fn of vpcFunctions) ack(fn.role, 'AwsSolutions-IAM5[Resource::*]', REASONS.vpcEni);

  // The finding names the function by its logical id, as in `<MigrationsHandlerFunction12F7BFB0.Arn>:*`.
  const handlerLogicalId = stack.getLogicalId(stack.migrations.handler.function.node.defaultChild as CfnElement);
  ack(
    stack.migrations.providerRole,
    `AwsSolutions-IAM5[Resource::<${handlerLogicalId}.Arn>:*]`,
    REASONS.providerInvoke,
  );

  if (db instanceof AwsDatabase) {
    const s = stack.settings.database;
    if (!s.multiAz) ack(db.instance, 'AwsSolutions-RDS3', REASONS.rdsMultiAz);
    if (!s.deletionProtection) ack(db.instance, 'AwsSolutions-RDS10', REASONS.rdsDeletionProtection);
    if (s.backupRetentionDays === 0) ack(db.instance, 'AwsSolutions-RDS13', REASONS.rdsNoBackups);
    ack(db.instance, 'AwsSolutions-RDS11', REASONS.rdsDefaultPort);
  }
  if (db instanceof LocalStackDatabase) {
    ack(db.adminSecret, 'AwsSolutions-SMG4', REASONS.localAdminSecretRotation);
    for (const secret of db.userSecrets) ack(secret, 'AwsSolutions-SMG4', REASONS.localUserSecretRotation);
  }
}
