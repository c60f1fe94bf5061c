/**
 * The MQTT door on AWS IoT Core (issue 11), from the topology's `mqttDoor` entry, the same one the
 * local broker and rule engine read (runtime/mqtt):
 * - a topic rule: every message on the filter, bytes unchanged (`SELECT *`), into the stream
 *   with `mqtt:${topic(3)}` (the device's thing name) as partition key; its error action sends
 *   IoT's error message to the topology's error destination queue, where the drainer lands the
 *   original payload as a row (src/pipeline/drain-messages.ts), so a failed forward is not lost;
 * - the device policy, with thing-name policy variables, so a certificate attached to a thing
 *   can connect only as that thing, publish only to its own topic, subscribe and receive only
 *   under its own topics. No wildcard lets one device act as another.
 */
/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: IoT policy variables and substitution templates, not JavaScript */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import { type MqttDoorSpec, mqttDoor, mqttRuleSql } from '#topology.js';
import type { Trigger } from './triggers.js';

/** The IoT policy variable for the connected thing's name. */
export const THING = '${iot:Connection.Thing.ThingName}';

function iotArn(resource: string): string {
  return `arn:${Aws.PARTITION}:iot:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
}

/** The policy document: what the local broker enforces (runtime/mqtt/broker.ts), as IoT policy. */
export function devicePolicyDocument(door: MqttDoorSpec = mqttDoor): Record<string, unknown> {
  const ownTopic = door.deviceTopic.replace('{thing}', THING);
  const ownSpace = `${ownTopic.split('/').slice(0, 3).join('/')}/*`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: iotArn(`client/${THING}`),
        // Only a certificate attached to a thing defines the variable; require it.
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      { Effect: 'Allow', Action: 'iot:Publish', Resource: iotArn(`topic/${ownTopic}`) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: iotArn(`topicfilter/${ownSpace}`) },
      { Effect: 'Allow', Action: 'iot:Receive', Resource: iotArn(`topic/${ownSpace}`) },
    ],
  };
}

export const iotDoor: Trigger = ({ scope, stream, queues }) => {
  const door = mqttDoor;
  const errorQueue = queues[door.errorDestination];
  const role = new iam.Role(scope, 'MqttRuleRole', {
    assumedBy: new iam.ServicePrincipal('iot.amazonaws.com'),
    description: `Lets the IoT rule ${door.ruleName} write to the stream and send failed forwards to its error queue`,
  });
  stream.grantWrite(role);
  errorQueue.grantSendMessages(role);
  const rule = new iot.CfnTopicRule(scope, 'MqttTopicRule', {
    ruleName: door.ruleName,
    topicRulePayload: {
      sql: mqttRuleSql(door),
      awsIotSqlVersion: '2016-03-23',
      ruleDisabled: false,
      description: 'Device readings into the stream; the partition key is the device identity (mqtt:<thing>)',
      actions: [{ kinesis: { streamName: stream.streamName, partitionKey: door.partitionKey, roleArn: role.roleArn } }],
      errorAction: { sqs: { queueUrl: errorQueue.queueUrl, roleArn: role.roleArn, useBase64: false } },
    },
  });
  rule.node.addDependency(role);
  new iot.CfnPolicy(scope, 'MqttDevicePolicy', {
    policyName: door.policyName,
    policyDocument: devicePolicyDocument(door),
  });
  return [rule];
};
