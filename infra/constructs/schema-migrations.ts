/**
 * Applies db/migrations during `cdk deploy`, through a custom resource whose handler calls the
 * same `migrate()` the tests use (infra/migrations/handler.ts), then creates the functions'
 * login users.
 *
 * The resource's properties carry a hash of the SQL files, so CloudFormation invokes it again
 * exactly when a migration is added or changed; everything that reads or writes tables (event
 * source mappings, schedules) depends on it, so no record is processed before the schema exists.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CustomResource, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { GroupRole } from '../database-roles.js';
import type { PipelineDatabase } from './database.js';
import { PipelineFunction, retentionDays } from './pipeline-function.js';

export interface DatabaseUser {
  readonly secret: secretsmanager.ISecret;
  readonly groupRole: GroupRole;
}

export interface SchemaMigrationsProps {
  readonly functionName: string;
  readonly database: PipelineDatabase;
  readonly users: readonly DatabaseUser[];
  readonly projectRoot: string;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  readonly bundleMetafile?: boolean | undefined;
}

/** Folder of the SQL migrations, relative to the project root. */
export const MIGRATIONS_FOLDER = 'db/migrations';

/** Content hash of the migrations folder: names and bytes, in name order. */
export function migrationsHash(dir: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.sql'))
    .sort()) {
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(path.join(dir, name)))
      .update('\0');
  }
  return hash.digest('hex');
}

export class SchemaMigrations extends Construct {
  readonly resource: CustomResource;
  readonly handler: PipelineFunction;
  /** Role of the provider framework's function (acknowledged in infra/nag.ts). */
  readonly providerRole: iam.Role;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);
    const db = props.database;
    this.handler = new PipelineFunction(this, 'Handler', {
      functionName: props.functionName,
      entry: path.join(props.projectRoot, 'infra/migrations/handler.ts'),
      description: 'Applies db/migrations and creates the per-function database users (CloudFormation custom resource)',
      memoryMb: 256,
      timeoutSeconds: 300,
      // Migrations take locks and run DDL: straight to the instance, never through a proxy.
      environment: { DB_SECRET_ARN: db.adminSecret.secretArn, ...db.connectionEnvironment({ direct: true }) },
      logRetentionDays: props.logRetentionDays,
      removalPolicy: props.removalPolicy,
      projectRoot: props.projectRoot,
      vpc: db.vpc,
      vpcSubnets: db.vpcSubnets,
      bundleMetafile: props.bundleMetafile,
      // node-pg-migrate reads the .sql files at run time: ship them beside the bundle.
      copyFolders: [{ from: MIGRATIONS_FOLDER, to: 'migrations' }],
    });
    db.adminSecret.grantRead(this.handler.function);
    for (const user of props.users) user.secret.grantRead(this.handler.function);
    db.allowFrom(this.handler.function, { direct: true });

    const { provider, role } = this.createProvider(props);
    this.providerRole = role;
    this.resource = new CustomResource(this, 'Schema', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::IotFirstSchema',
      properties: {
        MigrationsHash: migrationsHash(path.join(props.projectRoot, MIGRATIONS_FOLDER)),
        Users: props.users.map((u) => ({ SecretArn: u.secret.secretArn, GroupRole: u.groupRole })),
      },
    });
  }

  /**
   * The provider framework sends the CloudFormation response and turns a crash or timeout of the
   * handler into a FAILED response, instead of a stack waiting an hour for one.
   */
  private createProvider(props: SchemaMigrationsProps): { provider: cr.Provider; role: iam.Role } {
    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention: retentionDays(props.logRetentionDays),
      removalPolicy: props.removalPolicy,
    });
    const role = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'CDK provider framework for the schema migrations: invoke the handler, write its own logs',
    });
    frameworkLogs.grantWrite(role);
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      frameworkOnEventRole: role,
      logGroup: frameworkLogs,
    });
    return { provider, role };
  }
}
