/**
 * The local host's alert notifier (issue 10): polls the alerts table and, for every alert opened
 * or closed, writes an `ALERT …` line to the status output, appends one JSON line to
 * `<state>/alerts.jsonl`, and sends an e-mail when `npm start -- --smtp URL` is given. Each event
 * goes out once: the keys already in alerts.jsonl are not sent again after a restart.
 */
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type pg from 'pg';
import { type AlertEvent, PostgresAlertFeed } from '#adapters/postgres/alert-feed.js';

export interface AlertNotifierOptions {
  readonly pool: pg.Pool;
  readonly stateDir: string;
  /** smtp://user:pass@host:port (or smtps://); no e-mail when absent. */
  readonly smtpUrl?: string | undefined;
  readonly mailTo?: string | undefined;
  readonly mailFrom?: string | undefined;
  /** Receives each `ALERT …` line (the status output). */
  readonly onLine: (line: string) => void;
  /** Receives failures (database or SMTP); the notifier keeps polling. */
  readonly onError?: (error: Error) => void;
  readonly intervalMs?: number;
}

export interface AlertNotifier {
  /** One poll now (the loop also polls every intervalMs); resolves with the events sent. */
  poll(): Promise<AlertEvent[]>;
  stop(): Promise<void>;
}

export const ALERTS_FILE = 'alerts.jsonl';

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

export async function startAlertNotifier(options: AlertNotifierOptions): Promise<AlertNotifier> {
  const file = path.join(options.stateDir, ALERTS_FILE);
  const feed = new PostgresAlertFeed(options.pool);
  const sent = await sentKeys(file);
  const mailer = options.smtpUrl ? nodemailer.createTransport(options.smtpUrl) : undefined;
  let cursor: string | undefined;
  let running: Promise<AlertEvent[]> | undefined;
  let stopped = false;

  const deliver = async (e: AlertEvent) => {
    if (mailer) {
      await mailer.sendMail({
        from: options.mailFrom ?? 'iot-first@localhost',
        to: options.mailTo ?? 'alerts@localhost',
        subject: `[IoT First] ${e.sensorId} ${e.kind} alert ${e.event}`,
        text: `${alertLine(e)}\n\n${JSON.stringify(e, null, 2)}\n`,
      });
    }
    // The file records what went out, so it is written last.
    await appendFile(file, `${JSON.stringify({ ...e, notifiedAt: new Date().toISOString() })}\n`);
    sent.add(e.key);
    options.onLine(alertLine(e));
  };

  const pollOnce = async (): Promise<AlertEvent[]> => {
    const { cursor: next, events } = await feed.since(cursor);
    const fresh = events.filter((e) => !sent.has(e.key));
    for (const e of fresh) await deliver(e);
    cursor = next;
    return fresh;
  };
  const poll = (): Promise<AlertEvent[]> => {
    running ??= pollOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    if (stopped) return;
    poll().catch((error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
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
