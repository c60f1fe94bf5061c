/**
 * The local alert notifier on the topic path, with real parts: crafted readings open an alert in
 * real PostgreSQL, the aggregator's publish step puts it on the alert topic of a real fauxqs, the
 * notifier consumes the queue subscribed to the topic, and a real SMTP server (smtp-server,
 * parsed with mailparser) receives the mail. One ALERT line, one JSON line in the state folder and
 * one e-mail per event; its closing likewise; a repeated delivery (at least once) and a restarted
 * notifier send nothing twice; a message on the topic that is not a reading alert is dropped and
 * reported.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { simpleParser } from 'mailparser';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSnsClient, createSqsClient } from '#adapters/aws/clients.js';
import { PostgresAlertOutbox } from '#adapters/postgres/alert-outbox.js';
import { SnsAlertPublisher } from '#adapters/sns/alert-publisher.js';
import type { AlertEvent } from '#domain/alert-event.js';
import { publishAlertEvents } from '#pipeline/publish-alerts.js';
import { ALERTS_FILE, startAlertNotifier } from '#runtime/alert-notifier.js';
import { ensureAlertTopic, type LocalAlertTopic } from '#runtime/alert-topic.js';
import { type RunningEmulator, startSqsEmulator } from '#runtime/embedded/emulators.js';
import { topology } from '#topology.js';
import { runAggregator, writeReadings } from '../support/api-fixtures.js';
import { createTestDatabase } from '../support/database.js';

const REGION = 'us-east-1';

let db: pg.Pool;
let stateDir: string;
let smtp: SMTPServer;
let smtpPort: number;
const mails: { subject: string; text: string; to: string }[] = [];
let emulator: RunningEmulator;
let sqs: SQSClient;
let topic: LocalAlertTopic;
let publisher: SnsAlertPublisher;
let closeSns: () => void;

/** The aggregator's run as its handler does it: windows and alerts, then the publish step. */
async function aggregateAndPublish(): Promise<void> {
  await runAggregator(db, 3);
  const published = await publishAlertEvents(new PostgresAlertOutbox(db), publisher);
  expect(published.problems).toEqual([]);
}

beforeAll(async () => {
  db = new pg.Pool({ connectionString: await createTestDatabase('api_notifier'), max: 4 });
  emulator = await startSqsEmulator({ port: 0, region: REGION });
  sqs = createSqsClient({ region: REGION, endpoint: emulator.url });
  topic = await ensureAlertTopic({ endpoint: emulator.url, region: REGION, sqs, topology });
  const sns = createSnsClient({ region: REGION, endpoint: emulator.url });
  publisher = new SnsAlertPublisher(sns, topic.topicArn);
  closeSns = () => sns.destroy();
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-notifier-'));
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const to = Array.isArray(mail.to) ? (mail.to[0]?.text ?? '') : (mail.to?.text ?? '');
          mails.push({ subject: mail.subject ?? '', text: mail.text ?? '', to });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => smtp?.close(() => resolve()));
  closeSns?.();
  sqs?.destroy();
  await emulator?.stop();
  await db?.end();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, s)).toISOString();

describe('local alert notifier', () => {
  it('announces each opened and closed alert once: status line, JSON line, e-mail', async () => {
    const lines: string[] = [];
    const errors: string[] = [];
    const start = () =>
      startAlertNotifier({
        sqs,
        queueUrl: topic.queueUrl,
        stateDir,
        smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
        mailTo: 'ops@example.test',
        onLine: (line) => lines.push(line),
        onError: (error) => errors.push(error.message),
        intervalMs: 60_000,
      });
    const notifier = await start();
    await writeReadings(
      db,
      [95, 96, 97].map((value, i) => ({ sensor: 'n1', at: at(i), value })),
    );
    await aggregateAndPublish();
    const [opened] = await notifier.poll();
    expect(opened?.key).toMatch(/^\d+:opened$/);
    expect(lines).toEqual([expect.stringMatching(/^ALERT n1 high opened at 2026-11-26T12:00:02.000Z: 3 consecutive/)]);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ subject: '[IoT First] n1 high alert opened', to: 'ops@example.test' });
    expect(mails[0]?.text).toContain('peak 97');
    expect(await notifier.poll()).toEqual([]);

    // The topic delivers at least once: the same event delivered again is dropped by its key.
    await publisher.publish([opened as AlertEvent]);
    expect(await notifier.poll()).toEqual([]);
    expect(mails).toHaveLength(1);
    await notifier.stop();

    // A restarted notifier does not repeat; the closing goes out once.
    const again = await start();
    expect(await again.poll()).toEqual([]);
    await writeReadings(db, [{ sensor: 'n1', at: at(3), value: 50 }]);
    await aggregateAndPublish();
    expect((await again.poll()).map((e) => e.event)).toEqual(['closed']);
    expect(await again.poll()).toEqual([]);

    // Someone else's message on the topic (an operator's test, say) is reported and dropped, not retried forever.
    const sns = createSnsClient({ region: REGION, endpoint: emulator.url });
    await sns.send(new PublishCommand({ TopicArn: topic.topicArn, Message: 'hello from the console' }));
    sns.destroy();
    expect(await again.poll()).toEqual([]);
    expect(errors).toEqual([expect.stringMatching(/dropped a message on the alert topic: not a reading alert/)]);
    expect(await again.poll()).toEqual([]);
    expect(errors).toHaveLength(1);
    await again.stop();

    const json = (await readFile(path.join(stateDir, ALERTS_FILE), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sensorId: string; event: string; openingReadings: unknown[] });
    expect(json.map((e) => [e.sensorId, e.event])).toEqual([
      ['n1', 'opened'],
      ['n1', 'closed'],
    ]);
    expect(json[0]?.openingReadings).toHaveLength(3);
    expect(mails.map((m) => m.subject)).toEqual([
      '[IoT First] n1 high alert opened',
      '[IoT First] n1 high alert closed',
    ]);
    expect(lines).toHaveLength(2);
  });
});
