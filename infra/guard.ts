/**
 * cfn-guard with the AWS Control Tower proactive controls (`@cdklabs/cdk-validator-cfnguard`), the
 * second policy pack beside cdk-nag (infra/nag.ts). Every finding is fixed or acknowledged here on
 * the construct that raises it, with its reason, and only in the configuration that raises it;
 * anything else fails `cdk synth` and the tests.
 *
 * Fixed rather than acknowledged: CT.RDS.PR.14 (the instance exports both PostgreSQL log types,
 * `postgresql` and `upgrade`, infra/constructs/database.ts).
 *
 * Acknowledgements are found by kind (every log group, every function outside a VPC, every
 * dead-letter queue), so a door that adds one of those inherits the same reasoning; a door that
 * raises any other control fails until it is fixed or acknowledged.
 */

import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  type App,
  type IPolicyValidationContextBeta1,
  type IPolicyValidationPluginBeta1,
  type PolicyValidationPluginReportBeta1,
  Validations,
} from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { AwsDatabase, LocalStackDatabase } from './constructs/database.js';
import { QueryApi } from './constructs/query-api.js';
import type { PipelineStack } from './pipeline-stack.js';

/** Acknowledgement ids carry the plugin's name as their namespace. */
const PLUGIN = 'cdk-validator-cfnguard';

/**
 * The cfn-guard plugin, with every violation marked as an error. The plugin leaves `severity`
 * unset; aws-cdk-lib then recomputes a report's success, once any of its violations is
 * acknowledged, as "no violation of severity error", so one acknowledgement would let every
 * other finding through without failing the synth. Found by guard.test.ts's planted finding.
 */
class BlockingGuard implements IPolicyValidationPluginBeta1 {
  private readonly inner = new CfnGuardValidator({ maxBuffer: 16 * 1024 * 1024 });
  readonly name = this.inner.name;
  readonly version = this.inner.version;
  readonly ruleIds = this.inner.ruleIds;

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const report = this.inner.validate(context);
    return { ...report, violations: report.violations.map((v) => ({ ...v, severity: v.severity ?? 'error' })) };
  }
}

/** Registers the Control Tower rules as a validation plugin of the app (the `cdk synth` path). */
export function addGuardPlugin(app: App): void {
  Validations.of(app).addPlugins(new BlockingGuard());
}

const REASONS = {
  logRetention:
    'CT.CLOUDWATCH.PR.2: log retention is the deployment’s choice (-c logRetentionDays, default 30): these are ' +
    'operational logs (structured JSON, no readings and no secrets), and the data itself lives in PostgreSQL. ' +
    'With -c logRetentionDays=365 or more this acknowledgement is not added.',
  logKms:
    'CT.CLOUDWATCH.PR.3: CloudWatch Logs encrypts every log group at rest with a service key. A customer key adds ' +
    'a key policy for the logs service, per-request KMS charges on every log event, and protects nothing these ' +
    'logs hold: the code never logs secrets or reading payloads (HELPERS rules, tested).',
  lambdaOutsideVpcNoDatabase:
    'CT.LAMBDA.PR.3: only functions that reach PostgreSQL run in the VPC (infra/wiring.ts: a database role puts a ' +
    'function in the isolated subnets). This one never opens a database connection; it calls public AWS APIs ' +
    '(Kinesis, Lambda) with its own narrowly scoped role, and the VPC would only add ENI cold starts and endpoints.',
  lambdaProviderFramework:
    'CT.LAMBDA.PR.3: the CDK provider framework function of the migrations custom resource only invokes the ' +
    'migrations handler (which does run in the VPC) and answers CloudFormation’s pre-signed S3 URL, which needs a ' +
    'route to S3 that the isolated subnets deliberately lack.',
  lambdaLocalStack:
    'CT.LAMBDA.PR.3: LocalStack target: there is no VPC; LocalStack runs each function in a container on the ' +
    'compose network (LAMBDA_DOCKER_NETWORK), which is the isolation this target has.',
  dlqOfDlq:
    'CT.SQS.PR.1: this queue is itself a dead-letter queue (of a working queue, maxReceiveCount 5). A message in ' +
    'it already alarms (Monitoring: any message in a DLQ) and waits 14 days for a human; a DLQ of a DLQ would ' +
    'only move it out of sight.',
  rdsMultiAz:
    'CT.RDS.PR.1: single-AZ is the configured choice for a small fleet (see AwsSolutions-RDS3 in infra/nag.ts: ' +
    'Kinesis keeps records 24 h while the instance recovers, so ingest lags but loses nothing). With ' +
    '-c dbMultiAz=true this acknowledgement is not added.',
  rdsDeletionProtection:
    'CT.RDS.PR.13: deletion protection follows the removal policy (see AwsSolutions-RDS10 in infra/nag.ts); on with ' +
    '-c removalPolicy=retain or -c dbDeletionProtection=true, and this acknowledgement is then not added.',
  rdsEnhancedMonitoring:
    'CT.RDS.PR.2: RDS’s standard one-minute CloudWatch metrics (CPU, connections, storage, IOPS) are on the ' +
    'dashboard’s reach; enhanced monitoring needs a role with the AWS managed AmazonRDSEnhancedMonitoringRole ' +
    'policy (a cdk-nag IAM4 finding) and bills its OS metrics as log ingestion, for a db.t4g.micro.',
  rdsDefaultPort:
    'CT.RDS.PR.20: see AwsSolutions-RDS11 in infra/nag.ts: isolated subnets with no route out, a security group ' +
    'that admits only the pipeline’s functions, forced TLS and per-function users; a non-default port hides nothing.',
  rdsKmsKey:
    'CT.RDS.PR.30: storage is encrypted at rest with the AWS managed key aws/rds. A customer key would matter for ' +
    'sharing snapshots across accounts or revoking access by key policy, neither of which this deployment does; ' +
    'it would add a key to manage and its monthly charge.',
  apiInvokePermission:
    'CT.LAMBDA.PR.2: this permission lets only apigateway.amazonaws.com invoke the function, and only with SourceArn ' +
    'set to this stack’s own REST API and stage (arn:…:execute-api:<region>:<account>:<api id>/<stage>/*/…). The ' +
    'rule accepts a SourceArn only as a literal or a plain Ref/GetAtt, and an execute-api ARN can only be built with ' +
    'Fn::Join; the function is not public.',
  rdsIamAuth:
    'CT.RDS.PR.7: functions authenticate as their own PostgreSQL users whose passwords live in Secrets Manager and ' +
    'rotate every 30 days (multi-user rotation); IAM database authentication would replace that with a token per ' +
    'connection (a connection-rate limit on the instance) and is not needed for least privilege here.',
} as const;

function ack(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${PLUGIN}::${rule}`, reason });
}

/** Adds every cfn-guard acknowledgement the stack needs in its configuration. */
export function acknowledgeGuardFindings(stack: PipelineStack): void {
  const all = stack.node.findAll();
  const settings = stack.settings;
  for (const group of all.filter((c): c is logs.LogGroup => c instanceof logs.LogGroup)) {
    if (settings.logRetentionDays < 365)
      ack(group, 'cloudwatch_log_group_retention_period_check', REASONS.logRetention);
    ack(group, 'cloudwatch_log_group_encrypted_check', REASONS.logKms);
  }
  acknowledgeFunctionsOutsideVpc(stack, all);
  for (const api of all.filter((c): c is QueryApi => c instanceof QueryApi)) {
    for (const permission of api.node.findAll().filter((c) => c instanceof lambda.CfnPermission)) {
      ack(permission, 'lambda_function_public_access_prohibited_check', REASONS.apiInvokePermission);
    }
  }
  for (const dlq of Object.values(stack.deadLetterQueues)) ack(dlq, 'sqs_dlq_check', REASONS.dlqOfDlq);

  const db = stack.database;
  if (db instanceof AwsDatabase) {
    const s = settings.database;
    if (!s.multiAz) ack(db.instance, 'rds_instance_multi_az_support_check', REASONS.rdsMultiAz);
    if (!s.deletionProtection) {
      ack(db.instance, 'rds_instance_deletion_protection_enabled_check', REASONS.rdsDeletionProtection);
    }
    ack(db.instance, 'rds_instance_enhanced_monitoring_enabled_check', REASONS.rdsEnhancedMonitoring);
    ack(db.instance, 'rds_instance_no_default_ports_check', REASONS.rdsDefaultPort);
    ack(db.instance, 'rds_storage_encrypted_kms_key_check', REASONS.rdsKmsKey);
    ack(db.instance, 'rds_instance_iam_authentication_enabled_check', REASONS.rdsIamAuth);
  }
}

/** Every function outside a VPC, with the reason that fits it. */
function acknowledgeFunctionsOutsideVpc(stack: PipelineStack, all: readonly IConstruct[]): void {
  const providerPath = `${stack.migrations.node.path}/Provider/`;
  for (const fn of all.filter((c): c is lambda.Function => c instanceof lambda.Function)) {
    if (fn.isBoundToVpc) continue;
    const reason =
      stack.database instanceof LocalStackDatabase
        ? REASONS.lambdaLocalStack
        : fn.node.path.startsWith(providerPath)
          ? REASONS.lambdaProviderFramework
          : REASONS.lambdaOutsideVpcNoDatabase;
    ack(fn, 'lambda_inside_vpc_check', reason);
  }
}
