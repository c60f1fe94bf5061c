/**
 * One Lambda function of the pipeline, bundled by esbuild on the host (no Docker), with its own
 * log group and its own role.
 *
 * Why its own role rather than the role `NodejsFunction` would create: that role carries the
 * AWS managed AWSLambdaBasicExecutionRole (logs:CreateLogGroup/CreateLogStream/PutLogEvents on
 * every log group of the account). Here the role may only write to this function's log group;
 * every other permission is added by a grant on the resource the function uses.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * Node.js runtime of every function. The newest Lambda offers (cdk-nag AwsSolutions-L1 holds us
 * to it); the bundles target the same version so esbuild keeps native syntax.
 */
const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;
const ESBUILD_TARGET = 'node24';

/**
 * The handlers are ESM (`import.meta.url` locates the migrations folder). Some dependencies
 * (pg, node-pg-migrate's helpers) are CommonJS and call `require` for Node built-ins; in an ESM
 * bundle that needs a real `require`, which this banner provides.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __iotCreateRequire } from 'node:module'; const require = __iotCreateRequire(import.meta.url);";

/** What Lambda needs to manage a VPC function's network interfaces (no data resource involved). */
export const VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

export interface PipelineFunctionProps {
  /** Deployed function name. */
  readonly functionName: string;
  /** Absolute path of the TypeScript entry; its `handler` export is the entry point. */
  readonly entry: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly environment: Record<string, string>;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  /** Project root: esbuild resolves node_modules and the lock file from here. */
  readonly projectRoot: string;
  /** Functions that reach the database run in the VPC (AWS target only). */
  readonly vpc?: ec2.IVpc | undefined;
  readonly vpcSubnets?: ec2.SubnetSelection | undefined;
  /** Write an esbuild metafile next to the bundle, so tests can list every bundled module. */
  readonly bundleMetafile?: boolean | undefined;
  /**
   * Project folders whose files are read at run time (SQL migrations, SodaCL checks), copied into
   * the bundle: `from` relative to the project root, `to` relative to the bundle root.
   */
  readonly copyFolders?: readonly { readonly from: string; readonly to: string }[] | undefined;
  /**
   * Project scripts that write files the function serves (the dashboard's built page), run with
   * tsx after bundling: `script` relative to the project root, its one argument the folder `to`
   * relative to the bundle root.
   */
  readonly generatedFolders?: readonly { readonly script: string; readonly to: string }[] | undefined;
}

export class PipelineFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${props.functionName}`,
      retention: retentionDays(props.logRetentionDays),
      removalPolicy: props.removalPolicy,
    });
    this.role = this.createRole(props);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      environment: {
        // Stack traces point at the TypeScript sources (the bundles ship external source maps).
        NODE_OPTIONS: '--enable-source-maps',
        // Node on Lambda does not trust the RDS CA by default; the runtime ships the bundle here.
        NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
        ...props.environment,
      },
      bundling: bundlingOptions(props),
    });
  }

  /** The function's own role: writes to its own log group, and manages its VPC interfaces if in a VPC. */
  private createRole(props: PipelineFunctionProps): iam.Role {
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.functionName}: its own log group plus grants on what it uses`,
    });
    this.logGroup.grantWrite(role);
    if (props.vpc) {
      // Lambda attaches the function to the VPC through network interfaces it manages with this
      // role. These are the EC2 actions of AWS's AWSLambdaVPCAccessExecutionRole without its
      // logs:* on every log group; they do not support resource-level scoping (see infra/nag.ts).
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'LambdaVpcNetworkInterfaces',
          actions: [...VPC_ENI_ACTIONS],
          resources: ['*'],
        }),
      );
    }
    return role;
  }
}

/** esbuild on the host, ESM, minified with external source maps, plus the folders read at run time. */
function bundlingOptions(props: PipelineFunctionProps): nodejs.BundlingOptions {
  const copies = props.copyFolders ?? [];
  const generated = props.generatedFolders ?? [];
  const afterBundling = (inputDir: string, outputDir: string): string[] => [
    ...copies.flatMap((c) => [
      `mkdir -p "${outputDir}/${c.to}"`,
      `cp -R "${inputDir}/${c.from}/." "${outputDir}/${c.to}/"`,
    ]),
    // --no-install: tsx is a devDependency of the project, never fetched at synth time.
    ...generated.map((g) => `npx --no-install tsx "${inputDir}/${g.script}" "${outputDir}/${g.to}"`),
  ];
  return {
    format: nodejs.OutputFormat.ESM,
    target: ESBUILD_TARGET,
    mainFields: ['module', 'main'],
    banner: ESM_REQUIRE_BANNER,
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    // The SDK is bundled: the versions the tests ran against, not whatever the runtime ships.
    bundleAwsSDK: true,
    // pg's optional native binding is never installed and never loaded.
    externalModules: ['pg-native'],
    metafile: props.bundleMetafile ?? false,
    forceDockerBundling: false,
    logLevel: nodejs.LogLevel.ERROR,
    ...(copies.length + generated.length > 0
      ? { commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling } }
      : {}),
  };
}

const RETENTIONS = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0);

/** The smallest CloudWatch retention that keeps at least `days` (CloudWatch accepts a fixed set). */
export function retentionDays(days: number): logs.RetentionDays {
  const sorted = [...RETENTIONS].sort((a, b) => a - b);
  const match = sorted.find((v) => v >= days) ?? sorted[sorted.length - 1];
  return match as logs.RetentionDays;
}
