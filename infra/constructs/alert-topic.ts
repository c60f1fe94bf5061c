/**
 * The alert topic: one SNS topic for the pipeline's alarms and its reading alerts, encrypted with
 * a customer-managed KMS key (rotated yearly) whose policy lets CloudWatch use it, TLS enforced,
 * and an e-mail subscription when the deployment gives an address (`-c alertEmail=...`).
 *
 * Why a customer key: SNS encrypts with a KMS key of the topic's choice, and the AWS managed key
 * `alias/aws/sns` has a policy nobody can edit that does not admit CloudWatch, so alarms could
 * not publish to a topic encrypted with it. Why the topic policy admits CloudWatch explicitly: a
 * topic with a policy of its own (the TLS statement) no longer has SNS's default owner-only one.
 */
import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertTopicProps {
  readonly topicName: string;
  readonly displayName: string;
  /** Address that gets every alert by e-mail (it must confirm the subscription once). */
  readonly alertEmail?: string | undefined;
  readonly removalPolicy: RemovalPolicy;
}

/** What CloudWatch needs on the key to publish to an encrypted topic (AWS's documented pair). */
export const CLOUDWATCH_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey*'] as const;

export class AlertTopic extends Construct {
  readonly key: kms.Key;
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    const { account, region, partition } = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the ${props.topicName} SNS topic (alarms and reading alerts)`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: [...CLOUDWATCH_KEY_ACTIONS],
        resources: ['*'],
      }),
    );
    // Grants only for AWS services acting on AWS resources (Control Tower CT.KMS.PR.3): nobody can
    // hand the key to a principal outside the key policy by a grant.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyGrantsExceptToAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: props.topicName,
      displayName: props.displayName,
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': account },
        },
      }),
    );
    if (props.alertEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alertEmail));
  }
}
