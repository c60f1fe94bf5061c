/**
 * cdk-nag AwsSolutions acknowledgements. Each one is attached to the narrowest construct that
 * raises it, names the exact finding (`Rule[Finding]`), and is added only in the configuration
 * that raises it (turning multi-AZ on, say, removes the RDS3 acknowledgement), so a new finding
 * anywhere else still fails `cdk synth` and the tests.
 */
import { type CfnElement, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type { IConstruct } from 'constructs';
import { AwsDatabase, LocalStackDatabase } from './constructs/database.js';
import { QueryApi } from './constructs/query-api.js';
import type { PipelineStack } from './pipeline-stack.js';
import { FUNCTION_WIRING, GET_METRIC_DATA_REASON } from './wiring.js';

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
  apiRequestValidation:
    'The API is one Lambda proxy integration: the function validates every request itself, with the zod schemas the ' +
    'OpenAPI document is generated from (unknown parameters refused, RFC 9457 problem replies, tested with hostile ' +
    'query strings). An API Gateway request validator would duplicate a subset of those rules in a second place.',
  apiWaf:
    'No WAF web ACL by default: a web ACL costs a monthly fee plus per-request charges, more than the whole API at ' +
    "this fleet's size. The stage throttles every request (-c apiThrottleRateLimit / apiThrottleBurstLimit) before " +
    'the function or the database sees it, and every request needs a bearer token. Associate a WAF web ACL with the ' +
    'stage when the API is exposed to untrusted networks at scale.',
  apiAuthorization:
    "Authorization is the function's own: every request but the token-free health of the page shell carries a bearer " +
    'token checked against hashed tokens in PostgreSQL (scope and expiry, constant-time comparison, 401/403), the same ' +
    'code and the same tokens as `npm start` (DESIGN.md section 10: same authorization on every target). An API Gateway ' +
    'authorizer or Cognito would add a second, different identity system.',
  apiAccountLogRole:
    "API Gateway's account-wide CloudWatch Logs role writes the execution and access logs of every REST API of the " +
    'account and region, to log groups API Gateway names itself (API-Gateway-Execution-Logs_<api id>/<stage>) or ' +
    'the stage names; the resource is narrowed from the managed policy’s "*" to log groups of this account and region.',
  alertKeyDataKeys:
    'Topic.grantPublish on a topic encrypted with a customer key grants kms:Decrypt and kms:GenerateDataKey* on that ' +
    'one key (its ARN is the only resource): SNS asks for a data key to encrypt every message published. The wildcard ' +
    'spans only the GenerateDataKey family (with and without plaintext, and the pair variants), the actions AWS ' +
    'documents for publishers to an encrypted topic; it widens nothing beyond that key.',
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
  // The same finding id covers every "*" resource of a role: a gauge-reading function's reason names both.
  const withGauges = new Set(
    Object.entries(stack.functions)
      .filter(([fid]) => FUNCTION_WIRING[fid as keyof typeof FUNCTION_WIRING].gauges)
      .map(([, fn]) => fn),
  );
  for (const fn of vpcFunctions) {
    const reason = withGauges.has(fn) ? `${REASONS.vpcEni} Also: ${GET_METRIC_DATA_REASON}` : REASONS.vpcEni;
    ack(fn.role, 'AwsSolutions-IAM5[Resource::*]', reason);
  }
  for (const fn of withGauges) {
    if (!fn.function.isBoundToVpc) ack(fn.role, 'AwsSolutions-IAM5[Resource::*]', GET_METRIC_DATA_REASON);
  }
  for (const [fid, fn] of Object.entries(stack.functions)) {
    if (FUNCTION_WIRING[fid as keyof typeof FUNCTION_WIRING].publishesAlerts)
      ack(fn.role, 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', REASONS.alertKeyDataKeys);
  }
  acknowledgeApis(stack);

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

/** The query API's findings, on the API, its stage, each method, and the account log role. */
function acknowledgeApis(stack: PipelineStack): void {
  for (const api of stack.node.findAll().filter((c): c is QueryApi => c instanceof QueryApi)) {
    ack(api.api, 'AwsSolutions-APIG2', REASONS.apiRequestValidation);
    ack(api.api.deploymentStage, 'AwsSolutions-APIG3', REASONS.apiWaf);
    for (const method of api.api.node.findAll().filter((c): c is apigw.Method => c instanceof apigw.Method)) {
      ack(method, 'AwsSolutions-APIG4', REASONS.apiAuthorization);
      ack(method, 'AwsSolutions-COG4', REASONS.apiAuthorization);
    }
    if (api.accountRole) {
      ack(
        api.accountRole,
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
        REASONS.apiAccountLogRole,
      );
    }
  }
}
