/**
 * The reading-alert message (src/domain/alert-event.ts) and the local notifier's reading of SNS's
 * envelope: what a subscriber receives round-trips to the event, a key that does not name its
 * event or an attribute that disagrees with the body is refused, subjects fit SNS's rules.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readConfig, settings } from '#config/env.js';
import {
  type AlertEvent,
  alertEventKey,
  alertMessageAttributes,
  alertMessageBody,
  alertSubject,
  parseAlertMessage,
} from '#domain/alert-event.js';
import { eventOfMessage } from '#runtime/alert-notifier.js';

const event: AlertEvent = {
  key: alertEventKey(42, 'closed'),
  alertId: 42,
  sensorId: 'temp-0042',
  kind: 'low',
  event: 'closed',
  at: '2026-11-26T12:03:00.000Z',
  openedAt: '2026-11-26T12:01:00.000Z',
  closedAt: '2026-11-26T12:03:00.000Z',
  peakValue: -12.5,
  readingCount: 4,
  openingReadings: [{ event_time: '2026-11-26T12:00:00Z', value: -11, position: 'shardId-000000000000/1' }],
};

/** SNS's notification envelope as an SQS subscriber receives it. */
function envelope(body: string, attributes: Record<string, string>): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: 'm-1',
    TopicArn: 'arn:aws:sns:us-east-1:000000000000:iot-alerts',
    Subject: alertSubject(event),
    Message: body,
    MessageAttributes: Object.fromEntries(
      Object.entries(attributes).map(([k, v]) => [k, { Type: 'String', Value: v }]),
    ),
  });
}

describe('reading-alert messages', () => {
  it('round-trips body and attributes through the envelope a subscriber receives', () => {
    expect(alertMessageAttributes(event)).toEqual({
      key: '42:closed',
      type: 'reading-alert',
      event: 'closed',
      kind: 'low',
      sensorId: 'temp-0042',
    });
    const parsed = eventOfMessage(envelope(alertMessageBody(event), alertMessageAttributes(event)));
    expect(parsed).toEqual({ ok: true, event });
  });

  it('refuses a body whose key does not name its event, and an attribute that disagrees with the body', () => {
    expect(parseAlertMessage(JSON.stringify({ ...event, key: '42:opened' }))).toMatchObject({ ok: false });
    expect(parseAlertMessage('{"not":"an alert"}')).toMatchObject({ ok: false });
    expect(parseAlertMessage('not json')).toEqual({ ok: false, reason: 'body is not JSON' });
    const wrongKey = eventOfMessage(
      envelope(alertMessageBody(event), { ...alertMessageAttributes(event), key: '7:closed' }),
    );
    expect(wrongKey).toMatchObject({ ok: false, reason: expect.stringContaining('7:closed') });
    expect(eventOfMessage('{"Type":"SubscriptionConfirmation"}')).toMatchObject({ ok: false });
    expect(eventOfMessage(envelope('an alarm in plain text', {}))).toMatchObject({ ok: false });
  });

  it('keeps subjects under SNS’s 100 printable ASCII characters', () => {
    expect(alertSubject(event)).toBe('[IoT First] temp-0042 low alert closed');
    const odd = alertSubject({ sensorId: `s\nä${'x'.repeat(200)}`, kind: 'high', event: 'opened' });
    expect(odd.length).toBe(99);
    expect(odd).toMatch(/^[\x20-\x7e]+$/);
  });

  it('sends a sensor id SQS would refuse (U+FFFE, U+FFFF, controls) as ASCII, and it reads back the same', () => {
    // The validator stores such ids (only NUL and lone surrogates are refused); SQS refuses
    // U+FFFE and U+FFFF, so an SQS subscriber would never get a message carrying them raw.
    const odd: AlertEvent = { ...event, sensorId: 'capteur-\uffff\ufffe-é-\u0007' };
    const body = alertMessageBody(odd);
    expect(body).toMatch(/^[\x20-\x7e]+$/);
    const attributes = alertMessageAttributes(odd);
    expect(Object.values(attributes).every((v) => /^[\x20-\x7e]+$/.test(v))).toBe(true);
    expect(attributes.sensorId).toBe('capteur-\\uffff\\ufffe-\\u00e9-\\u0007');
    expect(eventOfMessage(envelope(body, attributes))).toEqual({ ok: true, event: odd });
  });

  it('validates the topic ARN setting at start-up, naming it', () => {
    const schema = z.object({ ALERT_TOPIC_ARN: settings.topicArn.optional() });
    expect(readConfig('aggregator', schema, {})).toEqual({});
    const arn = 'arn:aws:sns:eu-west-1:123456789012:IotFirst-iot-alerts';
    expect(readConfig('aggregator', schema, { ALERT_TOPIC_ARN: arn })).toEqual({ ALERT_TOPIC_ARN: arn });
    expect(() => readConfig('aggregator', schema, { ALERT_TOPIC_ARN: 'iot-alerts' })).toThrow(
      /Invalid configuration for aggregator: ALERT_TOPIC_ARN: must be an SNS topic ARN/,
    );
  });
});
