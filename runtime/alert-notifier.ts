/**
 * The local host's alert notifier (issue 10): consumes the queue subscribed to the alert topic
 * (runtime/alert-topic.ts), to which the aggregator publishes reading alerts exactly as it does
 * on AWS, and for every alert opened or closed writes an `ALERT …` line to the status output,
 * appends one JSON line to `<state>/alerts.jsonl`, and sends an e-mail when
 * `npm start -- --smtp URL` is given.
 *
 * The topic delivers at least once, so each event goes out once by its key: keys already in
 * alerts.jsonl are dropped (after a restart too). A message is deleted only after its event was
 * written (or recognised as a repeat); one whose e-mail fails stays, and comes back when its
 * visibility timeout ends.
 */
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import nodemailer from 'nodemailer';
import { type AlertEvent, alertSubject, parseAlertMessage } from '#domain/alert-event.js';

export interface AlertNotifierOptions {
  readonly sqs: SQSClient;
  /** The queue subscribed to the alert topic. */
  readonly queueUrl: string;
  readonly stateDir: string;
  /** smtp://user:pass@host:port (or smtps://); no e-mail when absent. */
  readonly smtpUrl?: string | undefined;
  readonly mailTo?: string | undefined;
  readonly mailFrom?: string | undefined;
  /** Receives each `ALERT …` line (the status output). */
  readonly onLine: (line: string) => void;
  /** Receives failures (queue, SMTP, a message that is not a reading alert); the notifier keeps polling. */
  readonly onError?: (error: Error) => void;
  readonly intervalMs?: number;
}

export interface AlertNotifier {
  /** Drains the queue now (the loop also does every intervalMs); resolves with the events announced. */
  poll(): Promise<AlertEvent[]>;
  stop(): Promise<void>;
}

export const ALERTS_FILE = 'alerts.jsonl';

/** Receives per poll at most (10 messages each), so one poll ends even while alerts keep coming. */
const MAX_RECEIVES_PER_POLL = 50;

export function alertLine(e: AlertEvent): string {
  const what = e.kind === 'high' ? 'at or above the high-alert level' : 'at or below the low-alert level';
  return e.event === 'opened'
    ? `ALERT ${e.sensorId} ${e.kind} opened at ${e.at}: ${e.readingCount} consecutive readings ${what} (peak ${e.peakValue})`
    : `ALERT ${e.sensorId} ${e.kind} closed at ${e.at} (opened ${e.openedAt}, ${e.readingCount} readings, peak ${e.peakValue})`;
}

async function sentKeys(file: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const key = (JSON.parse(line) as { key?: unknown }).key;
      if (typeof key === 'string') keys.add(key);
    } catch {
      // A line cut by a crash: its event was not confirmed, so it may go out again.
    }
  }
  return keys;
}

/**
 * The event an SQS message from the topic carries: SNS's notification envelope around the body,
 * whose `key` attribute must agree with the body's key.
 */
export function eventOfMessage(body: string): { ok: true; event: AlertEvent } | { ok: false; reason: string } {
  let envelope: { Type?: unknown; Message?: unknown; MessageAttributes?: Record<string, { Value?: unknown }> };
  try {
    envelope = JSON.parse(body) as typeof envelope;
  } catch {
    return { ok: false, reason: 'not an SNS notification (not JSON)' };
  }
  if (envelope.Type !== 'Notification' || typeof envelope.Message !== 'string')
    return { ok: false, reason: 'not an SNS notification' };
  const parsed = parseAlertMessage(envelope.Message);
  if (!parsed.ok) return { ok: false, reason: `not a reading alert (${parsed.reason})` };
  const key = envelope.MessageAttributes?.key?.Value;
  if (key !== parsed.event.key) return { ok: false, reason: `its key attribute ${String(key)} is not the body's` };
  return parsed;
}

export async function startAlertNotifier(options: AlertNotifierOptions): Promise<AlertNotifier> {
  const file = path.join(options.stateDir, ALERTS_FILE);
  const sent = await sentKeys(file);
  const mailer = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : undefined;
  let running: Promise<AlertEvent[]> | undefined;
  let stopped = false;
  const report = (error: Error) => options.onError?.(error);

  const deliver = async (e: AlertEvent) => {
    if (mailer) {
      await mailer.sendMail({
        from: options.mailFrom ?? 'iot-first@localhost',
        to: options.mailTo ?? 'alerts@localhost',
        subject: alertSubject(e),
        text: `${alertLine(e)}\n\n${JSON.stringify(e, null, 2)}\n`,
      });
    }
    // The file records what went out, so it is written last.
    await appendFile(file, `${JSON.stringify({ ...e, notifiedAt: new Date().toISOString() })}\n`);
    sent.add(e.key);
    options.onLine(alertLine(e));
  };

  const remove = async (messages: readonly Message[]) => {
    if (messages.length === 0) return;
    await options.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  };

  /** Announces the fresh events of one receive; deletes what it handled, even when a later one fails. */
  const handle = async (messages: readonly Message[], announced: AlertEvent[]) => {
    const done: Message[] = [];
    try {
      for (const m of messages) {
        const parsed = eventOfMessage(m.Body ?? '');
        if (!parsed.ok) report(new Error(`alert notifier: dropped a message on the alert topic: ${parsed.reason}`));
        else if (!sent.has(parsed.event.key)) {
          await deliver(parsed.event);
          announced.push(parsed.event);
        }
        done.push(m);
      }
    } finally {
      await remove(done);
    }
  };

  const pollOnce = async (): Promise<AlertEvent[]> => {
    const announced: AlertEvent[] = [];
    for (let i = 0; i < MAX_RECEIVES_PER_POLL; i++) {
      const out = await options.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      await handle(messages, announced);
    }
    return announced;
  };
  const poll = (): Promise<AlertEvent[]> => {
    running ??= pollOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    if (stopped) return;
    poll().catch((error: unknown) => report(error instanceof Error ? error : new Error(String(error))));
  }, options.intervalMs ?? 2_000);
  timer.unref();

  return {
    poll,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
      mailer?.close();
    },
  };
}
