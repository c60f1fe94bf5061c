/**
 * Reading alerts published to the alert topic (issue 10), with real parts only: the aggregator's
 * handler on real PostgreSQL publishes to the SNS side of a real fauxqs, and a real SQS queue
 * subscribed to the topic receives SNS's notification envelope, as an SQS subscriber on AWS does.
 *
 * - an alert opened and closed by crafted readings gives one message each, keyed by attribute;
 * - a run with nothing new publishes nothing; late and duplicate readings publish nothing;
 * - with the topic's emulator stopped (a real outage, not a mock) the windows still commit, the
 *   events stay unpublished and are counted as failures; the next run after the restart publishes
 *   exactly the missed events;
 * - an event the topic refuses (too large) is reported unpublished while the others go out;
 * - on the local stack (`npm start`'s startStack), the aggregator run by the Lambda host publishes
 *   to the stack's own topic and the local notifier announces the alert from its queue, once.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSnsClient, createSqsClient } from '#adapters/aws/clients.js';
import { SnsAlertPublisher } from '#adapters/sns/alert-publisher.js';
import type { AlertEvent } from '#domain/alert-event.js';
import { ALERTS_FILE, startAlertNotifier } from '#runtime/alert-notifier.js';
import { ensureAlertTopic, type LocalAlertTopic } from '#runtime/alert-topic.js';
import { type RunningEmulator, startSqsEmulator } from '#runtime/embedded/emulators.js';
import { freePort } from '#runtime/free-port.js';
import { topology } from '#topology.js';
import { writeReadings } from '../support/api-fixtures.js';
import { createTestDatabase } from '../support/database.js';
import { lambdaContext } from '../support/factories.js';
import { copyTopology, startTestStack } from '../support/runtime-stack.js';

const REGION = 'us-east-1';

let db: pg.Pool;
let sqs: SQSClient;
let port: number;
let emulator: RunningEmulator | undefined;
let topic: LocalAlertTopic;
let aggregate: () => Promise<{ windowsRecomputed: number; alertsPublished?: number; alertPublishFailures?: number }>;

const endpoint = () => `http://127.0.0.1:${port}`;

/** fauxqs on the test's port, with the topic and a queue subscribed to it (again after a restart). */
async function startTopic(): Promise<void> {
  emulator = await startSqsEmulator({ port, region: REGION });
  topic = await ensureAlertTopic({ endpoint: endpoint(), region: REGION, sqs, topology, queueName: 'test-subscriber' });
}

beforeAll(async () => {
  const url = await createTestDatabase('alert_topic');
  db = new pg.Pool({ connectionString: url, max: 4 });
  port = await freePort();
  sqs = createSqsClient({ region: REGION, endpoint: endpoint() });
  await startTopic();
  Object.assign(process.env, {
    DATABASE_URL: url,
    ALERT_TOPIC_ARN: topic.topicArn,
    SNS_ENDPOINT: endpoint(),
    ALERT_CONSECUTIVE_READINGS: '3',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const { handler } = await import('#lambdas/aggregator/handler.js');
  aggregate = async () => handler({ id: `scheduled-${randomUUID()}` }, lambdaContext('aggregator'));
});
afterAll(async () => {
  sqs?.destroy();
  await emulator?.stop();
  await db?.end();
});

interface Received {
  readonly key: string | undefined;
  readonly type: string | undefined;
  readonly subject: string;
  readonly event: AlertEvent;
}

/** Every message now on the subscribed queue (deleted as read): the envelope's attributes and body. */
async function received(): Promise<Received[]> {
  const all: Received[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: topic.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return all;
    for (const m of messages) {
      const envelope = JSON.parse(m.Body ?? '') as {
        Type: string;
        Subject: string;
        Message: string;
        MessageAttributes: Record<string, { Type: string; Value: string }>;
      };
      expect(envelope.Type).toBe('Notification');
      all.push({
        key: envelope.MessageAttributes.key?.Value,
        type: envelope.MessageAttributes.type?.Value,
        subject: envelope.Subject,
        event: JSON.parse(envelope.Message) as AlertEvent,
      });
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: topic.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

async function alertOf(sensor: string) {
  const { rows } = await db.query<{
    alert_id: string;
    closed_at: Date | null;
    opened_published_at: Date | null;
    closed_published_at: Date | null;
  }>('SELECT alert_id, closed_at, opened_published_at, closed_published_at FROM alerts WHERE sensor_id = $1', [sensor]);
  expect(rows).toHaveLength(1);
  return rows[0] as (typeof rows)[number];
}

const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, s)).toISOString();

/** An opening event of `readings` opening readings (5,000 of them make it larger than SNS takes). */
function event(alertId: number, readings: number): AlertEvent {
  return {
    key: `${alertId}:opened`,
    alertId,
    sensorId: 't3',
    kind: 'low',
    event: 'opened',
    at: at(50),
    openedAt: at(50),
    closedAt: null,
    peakValue: 1,
    readingCount: readings,
    openingReadings: Array.from({ length: readings }, (_, i) => ({
      event_time: at(50),
      value: 1,
      position: `shardId-000000000000/${i}`,
    })),
  };
}

describe('reading alerts on the alert topic', () => {
  it('publishes an opening and a closing once each, keyed by attribute; nothing new, late or duplicate publishes nothing', async () => {
    const opening = [95, 96, 97].map((value, i) => ({ sensor: 't1', at: at(10 + i), value, readingId: randomUUID() }));
    await writeReadings(db, opening);
    expect(await aggregate()).toMatchObject({ alertsPublished: 1, alertPublishFailures: 0 });
    const alert = await alertOf('t1');
    const [opened, ...rest] = await received();
    expect(rest).toEqual([]);
    expect(opened).toMatchObject({
      key: `${alert.alert_id}:opened`,
      type: 'reading-alert',
      subject: '[IoT First] t1 high alert opened',
      event: { key: `${alert.alert_id}:opened`, sensorId: 't1', kind: 'high', event: 'opened', at: at(12) },
    });
    expect(opened?.event.openingReadings.map((r) => r.value)).toEqual([95, 96, 97]);
    expect(alert.opened_published_at).not.toBeNull();

    // Nothing new: nothing published.
    expect(await aggregate()).toMatchObject({ alertsPublished: 0, alertPublishFailures: 0 });
    expect(await received()).toEqual([]);

    // A duplicate of an opening reading and late readings (one back inside the levels, which would
    // close the alert were it evaluated): windows are recomputed, no alert event is published.
    await writeReadings(db, [
      opening[1] as (typeof opening)[number],
      { sensor: 't1', at: at(1), value: 40 },
      { sensor: 't1', at: at(2), value: 99 },
    ]);
    const late = await aggregate();
    expect(late.windowsRecomputed).toBeGreaterThan(0);
    expect(late).toMatchObject({ alertsPublished: 0, alertPublishFailures: 0 });
    expect(await received()).toEqual([]);
    expect((await alertOf('t1')).closed_at).toBeNull();

    // The first reading back closes it: one message.
    await writeReadings(db, [{ sensor: 't1', at: at(20), value: 50 }]);
    expect(await aggregate()).toMatchObject({ alertsPublished: 1, alertPublishFailures: 0 });
    expect((await received()).map((m) => [m.key, m.event.event, m.event.at])).toEqual([
      [`${alert.alert_id}:closed`, 'closed', at(20)],
    ]);
    expect((await alertOf('t1')).closed_published_at).not.toBeNull();
  });

  it('keeps the windows and the events when the topic is down; the next run publishes exactly what was missed', async () => {
    await emulator?.stop();
    emulator = undefined;
    await writeReadings(db, [
      ...[98, 99, 99.5].map((value, i) => ({ sensor: 't2', at: at(30 + i), value })),
      { sensor: 't2', at: at(40), value: 30 },
    ]);
    const down = await aggregate();
    // The windows committed: the run did not fail, and they are in the table.
    expect(down.windowsRecomputed).toBe(1);
    const windows = await db.query("SELECT 1 FROM sensor_aggregations WHERE sensor_id = 't2'");
    expect(windows.rowCount).toBe(1);
    expect(down).toMatchObject({ alertsPublished: 0 });
    expect(down.alertPublishFailures).toBe(2);
    const pending = await alertOf('t2');
    expect(pending.closed_at).not.toBeNull();
    expect([pending.opened_published_at, pending.closed_published_at]).toEqual([null, null]);

    // The emulator comes back empty (fauxqs is in memory): topic and subscription made again.
    await startTopic();
    expect(await aggregate()).toMatchObject({ alertsPublished: 2, alertPublishFailures: 0 });
    expect((await received()).map((m) => m.key)).toEqual([`${pending.alert_id}:opened`, `${pending.alert_id}:closed`]);
    expect(await aggregate()).toMatchObject({ alertsPublished: 0, alertPublishFailures: 0 });
    expect(await received()).toEqual([]);
  });

  it('reports an event the topic refuses (over 256 KiB) as unpublished and publishes the others', async () => {
    const sns = createSnsClient({ region: REGION, endpoint: endpoint() });
    const publisher = new SnsAlertPublisher(sns, topic.topicArn, { attempts: 2, baseMs: 10, maxMs: 20 });
    try {
      const { unpublished } = await publisher.publish([event(9001, 3), event(9002, 5_000), event(9003, 3)]);
      expect(unpublished.map((u) => [u.event.key, u.errorCode])).toEqual([['9002:opened', 'InvalidParameter']]);
      expect((await received()).map((m) => m.key).sort()).toEqual(['9001:opened', '9003:opened']);
    } finally {
      sns.destroy();
    }
  });
});

describe('a topic that cannot be reached', () => {
  it('costs one call’s attempts, not one per batch of ten, and no call starts when time is short', async () => {
    const sns = createSnsClient({ region: REGION, endpoint: endpoint() });
    let calls = 0;
    // Counts the requests the real client makes (a middleware, not a stand-in for the client).
    sns.middlewareStack.add(
      (next) => async (args) => {
        calls++;
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    const publisher = new SnsAlertPublisher(sns, topic.topicArn, { attempts: 2, baseMs: 10, maxMs: 20 });
    const events = Array.from({ length: 25 }, (_, i) => event(9100 + i, 1)); // three PublishBatch calls
    await emulator?.stop();
    emulator = undefined;
    try {
      const down = await publisher.publish(events);
      expect(calls).toBe(2);
      expect(down.unpublished.map((u) => u.event.key)).toEqual(events.map((e) => e.key));
      expect(new Set(down.unpublished.map((u) => u.errorCode)).size).toBe(1);

      calls = 0;
      const late = await publisher.publish(events, { stop: () => true });
      expect(calls).toBe(0);
      expect(late.unpublished.every((u) => u.errorCode === 'NotSent')).toBe(true);
      expect(late.unpublished).toHaveLength(25);
    } finally {
      sns.destroy();
      await startTopic();
    }
  });
});

describe('reading alerts on the local stack', () => {
  it('the aggregator in the Lambda host publishes to the stack’s topic; the notifier announces it once', async () => {
    const stack = await startTestStack({
      topology: copyTopology(),
      label: 'alert_stack',
      // The test runs the aggregator itself: no schedule racing it.
      host: { enable: { schedules: false } },
    });
    const lines: string[] = [];
    const notifier = await startAlertNotifier({
      sqs: stack.sqs,
      queueUrl: stack.endpoints.alertQueueUrl,
      stateDir: stack.stateDir,
      onLine: (line) => lines.push(line),
      intervalMs: 60_000,
    });
    try {
      expect(stack.endpoints.alertTopicArn).toBe(`arn:aws:sns:us-east-1:000000000000:${topology.alertTopic.name}`);
      await writeReadings(
        stack.db,
        [95, 96, 97].map((value, i) => ({ sensor: 'local-1', at: at(i), value })),
      );
      const run = await stack.host.invoke('aggregator', { id: 'alert-stack-test' });
      expect(run).toMatchObject({ ok: true, payload: { alertsPublished: 1, alertPublishFailures: 0 } });
      expect((await notifier.poll()).map((e) => [e.sensorId, e.event])).toEqual([['local-1', 'opened']]);
      expect(lines).toEqual([expect.stringMatching(/^ALERT local-1 high opened at /)]);
      const again = await stack.host.invoke('aggregator', { id: 'alert-stack-test-2' });
      expect(again).toMatchObject({ ok: true, payload: { alertsPublished: 0 } });
      expect(await notifier.poll()).toEqual([]);
      const jsonl = (await readFile(path.join(stack.stateDir, ALERTS_FILE), 'utf8')).trim().split('\n');
      expect(jsonl).toHaveLength(1);
    } finally {
      await notifier.stop();
      await stack.close();
    }
  }, 120_000);
});
