/**
 * The Kafka door on AWS: an event source mapping from an Amazon MSK cluster or a self-managed
 * Kafka cluster onto the bridge function, only when the deployment names one.
 *
 * Context settings (`-c key=value` or cdk.json):
 * - `kafkaMskClusterArn` (Amazon MSK) or `kafkaBootstrapServers` (self-managed, comma-separated
 *   `host:port` list); neither: no Kafka source is deployed;
 * - `kafkaTopic` (default `iot_sensor_data`, the original's topic);
 * - authentication: `kafkaSaslScramSecretArn` (a Secrets Manager secret with `username` and
 *   `password`, SASL/SCRAM-512) or `kafkaClientCertificateSecretArn` (mTLS: the client
 *   certificate and key); for MSK, none of them means IAM authentication;
 * - `kafkaRootCaSecretArn` (self-managed only): the brokers' root CA, when not a public one.
 *
 * Retries, bisect, maximum record age, partial batch responses and the on-failure queue come
 * from the topology, as for the Kinesis source. Kafka event source mappings accept them in
 * provisioned mode only, hence the provisioned pollers.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type Node } from 'constructs';
import type { KafkaSourceSpec } from '#topology.js';

export type KafkaAuthentication =
  | { readonly kind: 'iam' }
  | { readonly kind: 'none' }
  | { readonly kind: 'sasl-scram-512'; readonly secretArn: string }
  | { readonly kind: 'mtls'; readonly secretArn: string };

export type KafkaCluster =
  | { readonly kind: 'msk'; readonly clusterArn: string }
  | { readonly kind: 'self-managed'; readonly bootstrapServers: readonly string[]; readonly rootCaSecretArn?: string };

export interface KafkaSourceDeployment {
  readonly cluster: KafkaCluster;
  readonly topic: string;
  readonly authentication: KafkaAuthentication;
}

/**
 * The topology's Kafka source settings (src/topology.ts) the mapping is built from; the topic
 * and the wiring (function, on-failure queue) come from the deployment and the stack.
 */
export type KafkaSourceSpecLike = Omit<KafkaSourceSpec, 'function' | 'topic' | 'onFailure'>;

export class KafkaSettingsError extends Error {
  override readonly name = 'KafkaSettingsError';
}

function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

const MSK_ARN = /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

function secretArn(node: Node, key: string): string | undefined {
  const arn = text(node, key);
  if (arn !== undefined && !SECRET_ARN.test(arn))
    throw new KafkaSettingsError(`Context ${key} must be a Secrets Manager secret ARN, got ${arn}`);
  return arn;
}

/** The Kafka source the context asks for, or undefined; a contradictory or malformed setting fails the synth. */
export function kafkaSourceFromContext(node: Node): KafkaSourceDeployment | undefined {
  const clusterArn = text(node, 'kafkaMskClusterArn');
  const servers = text(node, 'kafkaBootstrapServers');
  if (clusterArn === undefined && servers === undefined) return undefined;
  if (clusterArn !== undefined && servers !== undefined)
    throw new KafkaSettingsError('Set kafkaMskClusterArn or kafkaBootstrapServers, not both');
  const scram = secretArn(node, 'kafkaSaslScramSecretArn');
  const mtls = secretArn(node, 'kafkaClientCertificateSecretArn');
  if (scram !== undefined && mtls !== undefined)
    throw new KafkaSettingsError('Set kafkaSaslScramSecretArn or kafkaClientCertificateSecretArn, not both');
  let cluster: KafkaCluster;
  if (clusterArn !== undefined) {
    if (!MSK_ARN.test(clusterArn))
      throw new KafkaSettingsError(`Context kafkaMskClusterArn must be an MSK cluster ARN, got ${clusterArn}`);
    cluster = { kind: 'msk', clusterArn };
  } else {
    const list = (servers as string).split(',').map((s) => s.trim());
    const bad = list.filter((s) => !HOST_PORT.test(s));
    if (bad.length > 0)
      throw new KafkaSettingsError(`Context kafkaBootstrapServers must be host:port,… ; not ${bad.join(', ')}`);
    const rootCa = secretArn(node, 'kafkaRootCaSecretArn');
    cluster = { kind: 'self-managed', bootstrapServers: list, ...(rootCa ? { rootCaSecretArn: rootCa } : {}) };
  }
  const authentication: KafkaAuthentication = scram
    ? { kind: 'sasl-scram-512', secretArn: scram }
    : mtls
      ? { kind: 'mtls', secretArn: mtls }
      : cluster.kind === 'msk'
        ? { kind: 'iam' }
        : { kind: 'none' };
  return { cluster, topic: text(node, 'kafkaTopic') ?? 'iot_sensor_data', authentication };
}

export interface KafkaBridgeSourceProps {
  readonly deployment: KafkaSourceDeployment;
  readonly spec: KafkaSourceSpecLike;
  readonly target: lambda.IFunction;
  readonly onFailure: sqs.IQueue;
  /** Where a self-managed cluster's brokers are reachable; not needed for MSK. */
  readonly vpc?: ec2.IVpc | undefined;
  readonly vpcSubnets?: ec2.SubnetSelection | undefined;
  readonly securityGroup?: ec2.ISecurityGroup | undefined;
}

/**
 * The batching window as a Kafka mapping takes it: whole seconds, or left unset for Lambda's own
 * Kafka default of 500 ms, which cannot be set explicitly. The topology's 0.5 s is that default
 * (the local source uses it as the fetch wait); CDK refuses a Duration of 0.5 s.
 */
function batchingWindow(seconds: number): { maxBatchingWindow?: Duration } {
  if (Number.isInteger(seconds)) return { maxBatchingWindow: Duration.seconds(seconds) };
  if (seconds === 0.5) return {};
  throw new KafkaSettingsError(
    `The Kafka source's maxBatchingWindowSeconds must be whole seconds or 0.5 (Lambda's Kafka default), got ${seconds}`,
  );
}

/**
 * What both kinds of mapping take from the topology: batching, starting position, retries,
 * bisect, record age, partial batch responses and the on-failure queue. CDK names them alike on
 * the self-managed source and on a plain mapping (MSK); only the topic, group and secret differ.
 */
function deliverySettings(spec: KafkaSourceSpecLike, onFailure: sqs.IQueue) {
  return {
    batchSize: spec.batchSize,
    ...batchingWindow(spec.maxBatchingWindowSeconds),
    startingPosition: lambda.StartingPosition[spec.startingPosition],
    bisectBatchOnError: spec.bisectBatchOnError,
    retryAttempts: spec.retryAttempts,
    // -1 (no limit) is the CDK default; a Duration cannot say it.
    ...(spec.maxRecordAgeSeconds >= 0 ? { maxRecordAge: Duration.seconds(spec.maxRecordAgeSeconds) } : {}),
    reportBatchItemFailures: spec.reportBatchItemFailures,
    onFailure: new sources.SqsDlq(onFailure),
    // Retries, bisect and partial responses need provisioned mode on Kafka mappings.
    provisionedPollerConfig: { minimumPollers: 1, maximumPollers: 5 },
  };
}

/** Adds the Kafka event source mapping onto the bridge. */
export class KafkaBridgeSource extends Construct {
  readonly mapping: lambda.CfnEventSourceMapping;

  constructor(scope: Construct, id: string, props: KafkaBridgeSourceProps) {
    super(scope, id);
    const auth = props.deployment.authentication;
    const secret =
      auth.kind === 'sasl-scram-512' || auth.kind === 'mtls'
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'AuthSecret', auth.secretArn)
        : undefined;
    const cluster = props.deployment.cluster;
    this.mapping =
      cluster.kind === 'msk'
        ? this.mskMapping(props, cluster.clusterArn, secret)
        : this.selfManagedMapping(props, cluster, secret);
  }

  /** A self-managed cluster through CDK's SelfManagedKafkaEventSource, which adds its mapping under the function. */
  private selfManagedMapping(
    props: KafkaBridgeSourceProps,
    cluster: Extract<KafkaCluster, { kind: 'self-managed' }>,
    secret: secretsmanager.ISecret | undefined,
  ): lambda.CfnEventSourceMapping {
    const { deployment, spec } = props;
    const auth = deployment.authentication;
    const rootCa = cluster.rootCaSecretArn;
    const source = new sources.SelfManagedKafkaEventSource({
      ...deliverySettings(spec, props.onFailure),
      topic: deployment.topic,
      consumerGroupId: spec.consumerGroupId,
      ...(secret ? { secret } : {}),
      bootstrapServers: [...cluster.bootstrapServers],
      authenticationMethod:
        auth.kind === 'mtls'
          ? sources.AuthenticationMethod.CLIENT_CERTIFICATE_TLS_AUTH
          : sources.AuthenticationMethod.SASL_SCRAM_512_AUTH,
      ...(rootCa ? { rootCACertificate: secretsmanager.Secret.fromSecretCompleteArn(this, 'RootCa', rootCa) } : {}),
      ...(props.vpc ? { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroup: props.securityGroup } : {}),
    });
    props.target.addEventSource(source);
    const mapping = props.target.node
      .findAll()
      .find((c): c is lambda.CfnEventSourceMapping => c instanceof lambda.CfnEventSourceMapping && Boolean(c.topics));
    if (!mapping) throw new Error('the Kafka event source mapping was not created');
    return mapping;
  }

  /**
   * MSK through a plain mapping: CDK's ManagedKafkaEventSource attaches the AWS managed policy
   * AWSLambdaMSKExecutionRole, and this project's roles carry only statements it can read. These
   * are the statements that policy holds, scoped to the cluster, its topic and its group.
   */
  private mskMapping(
    props: KafkaBridgeSourceProps,
    clusterArn: string,
    secret: secretsmanager.ISecret | undefined,
  ): lambda.CfnEventSourceMapping {
    const { spec, deployment, target } = props;
    const auth = deployment.authentication;
    const mapping = new lambda.EventSourceMapping(this, 'Mapping', {
      ...deliverySettings(spec, props.onFailure),
      target,
      eventSourceArn: clusterArn,
      kafkaTopic: deployment.topic,
      kafkaConsumerGroupId: spec.consumerGroupId,
      ...(secret
        ? {
            sourceAccessConfigurations: [
              {
                type:
                  auth.kind === 'mtls'
                    ? lambda.SourceAccessConfigurationType.CLIENT_CERTIFICATE_TLS_AUTH
                    : lambda.SourceAccessConfigurationType.SASL_SCRAM_512_AUTH,
                uri: secret.secretArn,
              },
            ],
          }
        : {}),
    });
    secret?.grantRead(target);
    target.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        resources: [clusterArn],
      }),
    );
    // Lambda's pollers reach the brokers through network interfaces in the cluster's VPC,
    // created with the function's role (AWSLambdaMSKExecutionRole's EC2 actions).
    const eni = new iam.PolicyStatement({
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeVpcs',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
      ],
      resources: ['*'],
    });
    target.addToRolePolicy(eni);
    if (auth.kind === 'iam') {
      // arn:…:cluster/<name>/<uuid> → the topic and group ARNs of that cluster.
      const [prefix, rest] = clusterArn.split(':cluster/') as [string, string];
      target.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            'kafka-cluster:Connect',
            'kafka-cluster:DescribeClusterDynamicConfiguration',
            'kafka-cluster:DescribeTopic',
            'kafka-cluster:ReadData',
            'kafka-cluster:DescribeGroup',
            'kafka-cluster:AlterGroup',
          ],
          resources: [
            clusterArn,
            `${prefix}:topic/${rest}/${deployment.topic}`,
            `${prefix}:group/${rest}/${spec.consumerGroupId}`,
          ],
        }),
      );
    }
    const policy = target.role?.node.tryFindChild('DefaultPolicy');
    if (policy)
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'The MSK event source polls through network interfaces Lambda creates in the cluster VPC with the function ' +
          "role; the EC2 Create/Describe/DeleteNetworkInterface, DescribeVpcs/Subnets/SecurityGroups actions AWS's " +
          'AWSLambdaMSKExecutionRole grants have no resource-level permissions (Describe*) or act on interfaces that do ' +
          'not exist yet, so "*" is the only working resource. They touch no data; the Kafka data permissions are ' +
          'scoped to the one cluster, topic and consumer group.',
      });
    return mapping.node.defaultChild as lambda.CfnEventSourceMapping;
  }
}
