/**
 * The alert topic of the local stack (issue 10): the topology's topic on the SNS side of the SQS
 * emulator (fauxqs serves both on one port; so does LocalStack), and a queue subscribed to it
 * that the local notifier (runtime/alert-notifier.ts) consumes. The aggregator publishes to the
 * topic exactly as on AWS; the subscription delivers SNS's notification envelope, as it does to
 * an SQS subscriber on AWS, so the notifier reads what any subscriber there reads.
 *
 * Idempotent: CreateTopic, CreateQueue and Subscribe return what exists. An emulator restarted
 * in memory (the soak's fauxqs) loses topic and subscription; calling this again restores both.
 */
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createSnsClient } from '#adapters/aws/clients.js';
import type { Topology } from '#topology.js';

/** The local notifier's queue: a local resource only (on AWS, subscribers bring their own). */
export const ALERT_QUEUE_NAME = 'iot-alerts-local-notifier';

export interface LocalAlertTopic {
  readonly topicArn: string;
  /** The queue subscribed to the topic, for the local notifier. */
  readonly queueUrl: string;
}

/** Long enough for an e-mail to go out before the message shows again (a failed one is retried then). */
const NOTIFIER_VISIBILITY_SECONDS = 30;

export async function ensureAlertTopic(options: {
  /** The SQS emulator's endpoint, which also serves SNS. */
  readonly endpoint: string;
  readonly region: string;
  readonly sqs: SQSClient;
  readonly topology: Pick<Topology, 'alertTopic'>;
  /** The subscribed queue; the notifier's by default (the rehearsal subscribes one of its own). */
  readonly queueName?: string;
}): Promise<LocalAlertTopic> {
  const sns = createSnsClient({ region: options.region, endpoint: options.endpoint });
  try {
    const topic = await sns.send(new CreateTopicCommand({ Name: options.topology.alertTopic.name }));
    const queue = await options.sqs.send(
      new CreateQueueCommand({
        QueueName: options.queueName ?? ALERT_QUEUE_NAME,
        Attributes: {
          VisibilityTimeout: String(NOTIFIER_VISIBILITY_SECONDS),
          MessageRetentionPeriod: String(14 * 24 * 3600),
        },
      }),
    );
    const topicArn = topic.TopicArn;
    const queueUrl = queue.QueueUrl;
    if (!topicArn || !queueUrl) throw new Error('the emulator returned no topic ARN or queue URL');
    const attributes = await options.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const queueArn = attributes.Attributes?.QueueArn;
    if (!queueArn) throw new Error(`queue ${queueUrl} has no ARN`);
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
    return { topicArn, queueUrl };
  } finally {
    sns.destroy();
  }
}
