/**
 * Where the pipeline's PostgreSQL lives, per target, behind one small interface the stack uses:
 * an admin secret (for migrations), one secret per function login user, network access for a
 * function, and the environment a function needs to connect (read by
 * `src/adapters/postgres/pool.ts`).
 *
 * Credentials are always in Secrets Manager and read at run time; the template and the
 * function environment only ever hold secret ARNs.
 */
import { CfnParameter, Duration, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { LOCALSTACK } from '../localstack.js';
import { deployedName } from '../names.js';
import type { DatabaseSettings } from '../settings.js';
import { retentionDays } from './pipeline-function.js';

const DATABASE_NAME = 'iot';

const POSTGRES_PORT = ec2.Port.tcp(5432);

/** Secrets rotate monthly; pool.ts re-reads its secret every 5 minutes, so no restart is needed. */
const ROTATION_PERIOD = Duration.days(30);

export interface PipelineDatabase {
  /** Credentials of the administrative user; only the migrations custom resource reads them. */
  readonly adminSecret: secretsmanager.ISecret;
  /** VPC the database-facing functions must run in; undefined when the database is reachable without one. */
  readonly vpc?: ec2.IVpc | undefined;
  readonly vpcSubnets?: ec2.SubnetSelection | undefined;
  /** Creates the secret of a function's login user (created in PostgreSQL by the migrations resource). */
  addUser(id: string, username: string): secretsmanager.ISecret;
  /** Lets a function open connections to the database (or its proxy). */
  allowFrom(fn: lambda.IFunction, options?: { readonly direct?: boolean }): void;
  /** Environment a function needs besides DB_SECRET_ARN; `direct` bypasses an RDS Proxy. */
  connectionEnvironment(options?: { readonly direct?: boolean }): Record<string, string>;
  /** Called once every user exists: an RDS Proxy must list every secret it authenticates. */
  finalize(): void;
}

export interface AwsDatabaseProps {
  readonly settings: DatabaseSettings;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetentionDays: number;
}

/**
 * AWS: RDS PostgreSQL in private isolated subnets of a VPC with no NAT gateway and no internet
 * gateway. Functions reach AWS APIs through interface endpoints (Secrets Manager, SQS, Kinesis,
 * CloudWatch metrics, SNS), which keeps the data path private and costs less than NAT for this traffic.
 */
export class AwsDatabase extends Construct implements PipelineDatabase {
  readonly vpc: ec2.Vpc;
  readonly vpcSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  readonly instance: rds.DatabaseInstance;
  readonly adminSecret: secretsmanager.ISecret;
  readonly secretsEndpoint: ec2.InterfaceVpcEndpoint;
  readonly endpoints: readonly ec2.InterfaceVpcEndpoint[];
  proxy?: rds.DatabaseProxy;
  private readonly settings: DatabaseSettings;
  private readonly userSecrets: secretsmanager.ISecret[] = [];
  private readonly clients: lambda.IFunction[] = [];

  constructor(scope: Construct, id: string, props: AwsDatabaseProps) {
    super(scope, id);
    this.settings = props.settings;
    this.vpc = this.createVpc(props);
    // `open: false`: an endpoint accepts HTTPS only from the security groups of the functions
    // that use it (allowFrom), not from the whole VPC range.
    const endpoint = (endpointId: string, service: ec2.InterfaceVpcEndpointAwsService) =>
      this.vpc.addInterfaceEndpoint(endpointId, { service, subnets: this.vpcSubnets, open: false });
    this.secretsEndpoint = endpoint('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    this.endpoints = [
      this.secretsEndpoint,
      endpoint('Sqs', ec2.InterfaceVpcEndpointAwsService.SQS),
      endpoint('Kinesis', ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS),
      // The query API's health report reads the validator's iterator age (cloudwatch:GetMetricData).
      endpoint('Monitoring', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING),
      // The aggregator publishes reading alerts to the alert topic (sns:Publish).
      endpoint('Sns', ec2.InterfaceVpcEndpointAwsService.SNS),
    ];
    this.instance = this.createInstance(props);
    if (!this.instance.secret) throw new Error('RDS instance without a generated secret');
    this.adminSecret = this.instance.secret;
    this.instance.addRotationSingleUser({
      automaticallyAfter: ROTATION_PERIOD,
      endpoint: this.secretsEndpoint,
      vpcSubnets: this.vpcSubnets,
    });
  }

  /** Two AZs of isolated subnets, no NAT, rejected flows logged. */
  private createVpc(props: AwsDatabaseProps): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // Nothing uses the default security group; leaving it as is avoids a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
    });
    // Rejected flows only: enough to diagnose a blocked connection, a fraction of the log volume.
    vpc.addFlowLog('FlowLog', {
      trafficType: ec2.FlowLogTrafficType.REJECT,
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: retentionDays(props.logRetentionDays),
          removalPolicy: props.removalPolicy,
        }),
      ),
    });
    return vpc;
  }

  /** The RDS instance: encrypted, private, TLS forced, logs exported to a log group with retention. */
  private createInstance(props: AwsDatabaseProps): rds.DatabaseInstance {
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 });
    const s = props.settings;
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;
    // The PostgreSQL log group is created here, with retention, rather than by RDS on first
    // export (no retention) or by CDK's LogRetention helper (one more Lambda with logs:* on *).
    const instanceIdentifier = deployedName(this, 'postgres').toLowerCase();
    // Both log types PostgreSQL on RDS exports (Control Tower CT.RDS.PR.14 asks for all of them):
    // the server log, and the log of engine version upgrades.
    const exportedLogs = [
      new logs.LogGroup(this, 'PostgresLogs', {
        logGroupName: `/aws/rds/instance/${instanceIdentifier}/postgresql`,
        retention: retentionDays(props.logRetentionDays),
        removalPolicy: props.removalPolicy,
      }),
      new logs.LogGroup(this, 'UpgradeLogs', {
        logGroupName: `/aws/rds/instance/${instanceIdentifier}/upgrade`,
        retention: retentionDays(props.logRetentionDays),
        removalPolicy: props.removalPolicy,
      }),
    ];
    const instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      instanceIdentifier,
      instanceType: new ec2.InstanceType(s.instanceType),
      vpc: this.vpc,
      vpcSubnets: this.vpcSubnets,
      credentials: rds.Credentials.fromGeneratedSecret('iot_admin'),
      databaseName: DATABASE_NAME,
      allocatedStorage: s.allocatedStorageGb,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: s.multiAz,
      backupRetention: Duration.days(s.backupRetentionDays),
      deleteAutomatedBackups: destroy,
      deletionProtection: s.deletionProtection,
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.SNAPSHOT,
      autoMinorVersionUpgrade: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      // TLS is forced server-side, whatever a client asks for.
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', {
        engine,
        description: 'IoT First: TLS required for every connection',
        parameters: { 'rds.force_ssl': '1' },
      }),
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
    });
    for (const group of exportedLogs) instance.node.addDependency(group);
    return instance;
  }

  addUser(id: string, username: string): secretsmanager.ISecret {
    const secret = new rds.DatabaseSecret(this, `${id}User`, {
      username,
      dbname: DATABASE_NAME,
      // Multi-user rotation logs in as the admin (masterarn) to alternate this user and a clone,
      // so a connection using the previous password keeps working during a rotation.
      masterSecret: this.adminSecret,
    });
    const attached = secret.attach(this.instance);
    this.instance.addRotationMultiUser(`${id}UserRotation`, {
      secret: attached,
      automaticallyAfter: ROTATION_PERIOD,
      endpoint: this.secretsEndpoint,
      vpcSubnets: this.vpcSubnets,
    });
    this.userSecrets.push(attached);
    return attached;
  }

  allowFrom(fn: lambda.IFunction, options: { readonly direct?: boolean } = {}): void {
    for (const e of this.endpoints) e.connections.allowDefaultPortFrom(fn, `HTTPS from ${fn.node.path}`);
    this.instance.connections.allowDefaultPortFrom(fn, `PostgreSQL from ${fn.node.path}`);
    if (!options.direct) this.clients.push(fn);
    if (this.proxy && !options.direct)
      this.proxy.connections.allowFrom(fn, POSTGRES_PORT, `PostgreSQL via proxy from ${fn.node.path}`);
  }

  connectionEnvironment(options: { readonly direct?: boolean } = {}): Record<string, string> {
    if (!this.settings.rdsProxy || options.direct) return {};
    if (!this.proxy) throw new Error('finalize() must run before functions read the proxy endpoint');
    return { DB_HOST_OVERRIDE: this.proxy.endpoint };
  }

  finalize(): void {
    if (!this.settings.rdsProxy || this.proxy) return;
    this.proxy = this.instance.addProxy('Proxy', {
      secrets: [this.adminSecret, ...this.userSecrets],
      vpc: this.vpc,
      vpcSubnets: this.vpcSubnets,
      requireTLS: true,
      // Connection pooling across many short-lived Lambda containers is why the proxy exists.
      borrowTimeout: Duration.seconds(30),
    });
    this.instance.connections.allowDefaultPortFrom(this.proxy, 'PostgreSQL from the RDS Proxy');
    for (const fn of this.clients)
      this.proxy.connections.allowFrom(fn, POSTGRES_PORT, `PostgreSQL via proxy from ${fn.node.path}`);
  }
}

/**
 * LocalStack: no VPC and no RDS (a paid LocalStack feature). The database is the compose file's
 * PostgreSQL service, reached by service name on the Lambda Docker network, without TLS (the
 * traffic never leaves the Docker network). Its superuser password is a NoEcho stack parameter
 * (`IOT_DB_PASSWORD`, the same variable the compose file reads), so it is neither in the
 * template nor in the repository; per-function user passwords are generated by Secrets Manager.
 */
export class LocalStackDatabase extends Construct implements PipelineDatabase {
  readonly adminSecret: secretsmanager.ISecret;
  readonly vpc = undefined;
  readonly vpcSubnets = undefined;
  readonly adminPassword: CfnParameter;
  readonly userSecrets: secretsmanager.Secret[] = [];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Stack-level so its logical id is exactly `DbAdminPassword` (the README passes it by name).
    this.adminPassword = new CfnParameter(Stack.of(this), 'DbAdminPassword', {
      type: 'String',
      noEcho: true,
      minLength: 8,
      description: 'Superuser password of the compose PostgreSQL service: the value of IOT_DB_PASSWORD',
    });
    const plain = (value: string | number) => SecretValue.unsafePlainText(String(value));
    this.adminSecret = new secretsmanager.Secret(this, 'AdminSecret', {
      description: 'IoT First (LocalStack): superuser of the compose PostgreSQL service, used by the migrations only',
      secretObjectValue: {
        engine: plain('postgres'),
        host: plain(LOCALSTACK.postgresService),
        port: plain(LOCALSTACK.postgresPort),
        dbname: plain(LOCALSTACK.databaseName),
        username: plain(LOCALSTACK.adminUser),
        password: SecretValue.cfnParameter(this.adminPassword),
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  addUser(id: string, username: string): secretsmanager.ISecret {
    const secret = new secretsmanager.Secret(this, `${id}User`, {
      description: `IoT First (LocalStack): login user ${username}`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({
          engine: 'postgres',
          host: LOCALSTACK.postgresService,
          port: LOCALSTACK.postgresPort,
          dbname: LOCALSTACK.databaseName,
          username,
        }),
        generateStringKey: 'password',
        passwordLength: 32,
        excludePunctuation: true,
      },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.userSecrets.push(secret);
    return secret;
  }

  allowFrom(): void {
    // No security groups on the Docker network.
  }

  connectionEnvironment(): Record<string, string> {
    return { DB_SSL: 'false', SECRETS_MANAGER_ENDPOINT: LOCALSTACK.endpoint };
  }

  finalize(): void {}
}
