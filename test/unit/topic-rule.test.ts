/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: IoT substitution templates are the subject here */
/**
 * The topic-rule parts shared by the local rule engine, the drainer and the CDK stack: topic
 * filters, substitution templates, the error message, and the MQTT door's topology entry.
 */
import { describe, expect, it } from 'vitest';
import { parseRecordOrigin } from '#domain/record-origin.js';
import {
  assertSupportedTemplate,
  matchesTopicFilter,
  parseRuleErrorMessage,
  RULE_ERROR_SHARD_ID,
  renderTemplate,
  ruleErrorToRecord,
} from '#domain/topic-rule.js';
import { deviceTopicFor, mqttDoor, mqttRuleSql } from '#topology.js';

describe('matchesTopicFilter', () => {
  it('+ matches exactly one level, # the rest', () => {
    expect(matchesTopicFilter('iot/sensors/+/readings', 'iot/sensors/temp-0001/readings')).toBe(true);
    expect(matchesTopicFilter('iot/sensors/+/readings', 'iot/sensors/a/b/readings')).toBe(false);
    expect(matchesTopicFilter('iot/sensors/+/readings', 'iot/sensors//readings')).toBe(true);
    expect(matchesTopicFilter('iot/sensors/+/readings', 'iot/sensors/temp-0001/readings/x')).toBe(false);
    expect(matchesTopicFilter('iot/sensors/+/readings', 'iot/sensors/temp-0001')).toBe(false);
    expect(matchesTopicFilter('iot/#', 'iot/sensors/x/readings')).toBe(true);
    expect(matchesTopicFilter('iot/#', 'iot')).toBe(true);
    expect(matchesTopicFilter('iot/#', 'other/x')).toBe(false);
  });
});

describe('renderTemplate', () => {
  const message = { topic: 'iot/sensors/temp-0001/readings', clientId: 'temp-0001-client' };
  it('renders topic(n) 1-based, topic() whole, clientid()', () => {
    expect(renderTemplate('mqtt:${topic(3)}', message)).toBe('mqtt:temp-0001');
    expect(renderTemplate('${topic()}', message)).toBe(message.topic);
    expect(renderTemplate('${clientid()}/${topic(1)}', message)).toBe('temp-0001-client/iot');
    expect(renderTemplate('${topic(9)}', message)).toBe('');
  });
  it('refuses functions it does not implement rather than computing another key than IoT would', () => {
    expect(() => assertSupportedTemplate('${newuuid()}')).toThrow(/unsupported substitution/);
    expect(() => assertSupportedTemplate('${sensor_id}')).toThrow(/unsupported substitution/);
    expect(() => renderTemplate('${principal()}', message)).toThrow(/unsupported substitution/);
  });
});

describe('the MQTT door entry', () => {
  it("the partition key of a device's topic is mqtt: and its thing name, as the validator parses it", () => {
    const topic = deviceTopicFor('hum-0042');
    expect(matchesTopicFilter(mqttDoor.topicFilter, topic)).toBe(true);
    const key = renderTemplate(mqttDoor.partitionKey, { topic, clientId: 'hum-0042' });
    expect(parseRecordOrigin(key)).toEqual({ door: 'mqtt', identity: 'hum-0042' });
    expect(mqttRuleSql()).toBe("SELECT * FROM 'iot/sensors/+/readings'");
  });
});

describe('rule error messages', () => {
  const payload = Buffer.from('{"sensor_id":"temp-0001"}');
  const message = {
    ruleName: mqttDoor.ruleName,
    topic: 'iot/sensors/temp-0001/readings',
    cloudwatchTraceId: '7e146a2c-95b5-6caf-98b9-50e3969734c7',
    clientId: 'temp-0001',
    base64OriginalPayload: payload.toString('base64'),
    failures: [{ failedAction: 'KinesisAction', failedResource: 'iot_sensor_data', errorMessage: 'throttled' }],
  };
  it('become a record with the original bytes, the identity key and a position naming the rule', () => {
    const at = new Date('2026-11-29T12:00:00Z');
    const record = ruleErrorToRecord(
      parseRuleErrorMessage(message),
      { streamName: 'iot_sensor_data', partitionKey: mqttDoor.partitionKey },
      at,
    );
    expect(Buffer.from(record.data)).toEqual(payload);
    expect(record.position).toEqual({
      streamName: 'iot_sensor_data',
      shardId: RULE_ERROR_SHARD_ID,
      sequenceNumber: `${mqttDoor.ruleName}:${message.cloudwatchTraceId}`,
      partitionKey: 'mqtt:temp-0001',
      arrivalTime: at,
    });
  });
  it('are checked: a message without failures or with a bad payload is refused', () => {
    expect(() => parseRuleErrorMessage({ ...message, failures: [] })).toThrow();
    expect(() => parseRuleErrorMessage({ ...message, base64OriginalPayload: '***' })).toThrow();
  });
});
