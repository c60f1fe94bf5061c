/**
 * The Kafka door's CDK construct on its own: which event source mapping each context setting
 * gives (MSK with IAM or SASL/SCRAM, self-managed with mTLS), that the topology's retries,
 * bisect, record age, partial responses and on-failure queue reach it, that settings are
 * validated at synth, and that cdk-nag has nothing to say about it.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { KafkaBridgeSource, type KafkaSourceSpecLike, kafkaSourceFromContext } from '#infra/constructs/kafka-source.js';
import { topology } from '#topology.js';
import { nagFindings } from './synth.js';

const SPEC: KafkaSourceSpecLike = {
  consumerGroupId: 'iot-kafka-bridge',
  batchSize: 500,
  maxBatchingWindowSeconds: 1,
  bisectBatchOnError: true,
  retryAttempts: 5,
  maxRecordAgeSeconds: 3600,
  reportBatchItemFailures: true,
  startingPosition: 'TRIM_HORIZON',
};

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_iot-AbCdEf';
const MSK = 'arn:aws:kafka:eu-west-1:123456789012:cluster/iot/0123abcd-0123-abcd-0123-0123456789ab-1';

function synth(context: Record<string, string>, spec: KafkaSourceSpecLike = SPEC) {
  const app = new App({ context });
  const stack = new Stack(app, 'KafkaDoor', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fn = new lambda.Function(stack, 'Bridge', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const failures = new sqs.Queue(stack, 'Failures', { enforceSSL: true });
  const deployment = kafkaSourceFromContext(stack.node);
  if (deployment) new KafkaBridgeSource(stack, 'KafkaSource', { deployment, spec, target: fn, onFailure: failures });
  return { app, stack, template: Template.fromStack(stack), failures };
}

describe('Kafka source in CDK', () => {
  it('deploys nothing without a cluster in the settings', () => {
    synth({}).template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
  });

  it('maps an MSK topic onto the bridge with the topology settings and the failures queue (SASL/SCRAM)', () => {
    const { template, stack, failures } = synth({ kafkaMskClusterArn: MSK, kafkaSaslScramSecretArn: SECRET });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: MSK,
      Topics: ['iot_sensor_data'],
      BatchSize: SPEC.batchSize,
      MaximumBatchingWindowInSeconds: SPEC.maxBatchingWindowSeconds,
      StartingPosition: SPEC.startingPosition,
      BisectBatchOnFunctionError: SPEC.bisectBatchOnError,
      MaximumRetryAttempts: SPEC.retryAttempts,
      MaximumRecordAgeInSeconds: SPEC.maxRecordAgeSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: SPEC.consumerGroupId },
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: SECRET }],
      DestinationConfig: { OnFailure: { Destination: stack.resolve(failures.queueArn) } },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 5 },
    });
  });

  it('uses IAM for MSK without a secret, and mTLS for a self-managed cluster with a client certificate', () => {
    const msk = synth({ kafkaMskClusterArn: MSK, kafkaTopic: 'legacy.readings' }).template;
    msk.hasResourceProperties('AWS::Lambda::EventSourceMapping', { Topics: ['legacy.readings'] });
    const mskMapping = Object.values(msk.findResources('AWS::Lambda::EventSourceMapping'))[0];
    expect(mskMapping?.Properties.SourceAccessConfigurations).toBeUndefined();
    // IAM access scoped to the cluster, its topic and the bridge's group; no managed MSK policy.
    const policy = JSON.stringify(msk.findResources('AWS::IAM::Policy'));
    expect(policy).toContain('kafka-cluster:ReadData');
    expect(policy).toContain(':topic/iot/0123abcd-0123-abcd-0123-0123456789ab-1/legacy.readings');
    expect(policy).toContain(`:group/iot/0123abcd-0123-abcd-0123-0123456789ab-1/${SPEC.consumerGroupId}`);
    expect(JSON.stringify(msk.findResources('AWS::IAM::Role'))).not.toContain('AWSLambdaMSKExecutionRole');

    const self = synth({
      kafkaBootstrapServers: 'b1.example.com:9094, b2.example.com:9094',
      kafkaClientCertificateSecretArn: SECRET,
    });
    self.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b1.example.com:9094', 'b2.example.com:9094'] } },
      SourceAccessConfigurations: [{ Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: SECRET }],
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: SPEC.consumerGroupId },
      MaximumRetryAttempts: SPEC.retryAttempts,
    });
  });

  it("synthesizes the topology's own Kafka settings: its 0.5 s window is Lambda's Kafka default, left unset", () => {
    const spec = topology.kafkaSources[0];
    if (!spec) throw new Error('the topology has no Kafka source');
    expect(spec.maxBatchingWindowSeconds).toBe(0.5);
    const { template } = synth({ kafkaBootstrapServers: 'b1.example.com:9094', kafkaSaslScramSecretArn: SECRET }, spec);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: spec.batchSize,
      MaximumBatchingWindowInSeconds: Match.absent(),
      MaximumRetryAttempts: spec.retryAttempts,
    });
    expect(() => synth({ kafkaMskClusterArn: MSK }, { ...spec, maxBatchingWindowSeconds: 1.5 })).toThrow(
      /maxBatchingWindowSeconds must be whole seconds or 0\.5/,
    );
  });

  it('refuses contradictory or malformed settings at synth, naming the setting', () => {
    expect(() => synth({ kafkaMskClusterArn: MSK, kafkaBootstrapServers: 'b:9092' })).toThrow(/not both/);
    expect(() => synth({ kafkaMskClusterArn: 'my-cluster' })).toThrow(/kafkaMskClusterArn must be an MSK cluster ARN/);
    expect(() => synth({ kafkaBootstrapServers: 'b1.example.com' })).toThrow(/kafkaBootstrapServers/);
    expect(() => synth({ kafkaMskClusterArn: MSK, kafkaSaslScramSecretArn: 'secret' })).toThrow(
      /kafkaSaslScramSecretArn/,
    );
  });

  it('adds no cdk-nag AwsSolutions finding of its own (only the bare test function has some)', () => {
    const contexts: Record<string, string>[] = [
      { kafkaMskClusterArn: MSK, kafkaSaslScramSecretArn: SECRET },
      { kafkaMskClusterArn: MSK },
      { kafkaBootstrapServers: 'b1.example.com:9094', kafkaClientCertificateSecretArn: SECRET },
    ];
    const bare = nagFindings(synth({}).app);
    for (const context of contexts) {
      const findings = nagFindings(synth(context).app);
      expect(
        findings.filter((f) => !bare.includes(f)),
        JSON.stringify(context),
      ).toEqual([]);
    }
  });
});
