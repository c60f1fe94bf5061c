/**
 * The local alert notifier against real PostgreSQL and a real SMTP server (smtp-server, parsed
 * with mailparser): an alert opened by crafted readings gives one ALERT line, one JSON line in
 * the state folder and one e-mail; its closing likewise; a restarted notifier sends nothing twice.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERTS_FILE, startAlertNotifier } from '#runtime/alert-notifier.js';
import { runAggregator, writeReadings } from '../support/api-fixtures.js';
import { createTestDatabase } from '../support/database.js';

let db: pg.Pool;
let stateDir: string;
let smtp: SMTPServer;
let smtpPort: number;
const mails: { subject: string; text: string; to: string }[] = [];

beforeAll(async () => {
  db = new pg.Pool({ connectionString: await createTestDatabase('api_notifier'), max: 4 });
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
  await db?.end();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, s)).toISOString();

describe('local alert notifier', () => {
  it('announces each opened and closed alert once: status line, JSON line, e-mail', async () => {
    const lines: string[] = [];
    const start = () =>
      startAlertNotifier({
        pool: db,
        stateDir,
        smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
        mailTo: 'ops@example.test',
        onLine: (line) => lines.push(line),
        intervalMs: 60_000,
      });
    const notifier = await start();
    await writeReadings(
      db,
      [95, 96, 97].map((value, i) => ({ sensor: 'n1', at: at(i), value })),
    );
    await runAggregator(db, 3);
    expect((await notifier.poll()).map((e) => e.key)).toEqual([expect.stringMatching(/:opened$/)]);
    expect(lines).toEqual([expect.stringMatching(/^ALERT n1 high opened at 2026-11-26T12:00:02.000Z: 3 consecutive/)]);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ subject: '[IoT First] n1 high alert opened', to: 'ops@example.test' });
    expect(mails[0]?.text).toContain('peak 97');
    expect(await notifier.poll()).toEqual([]);
    await notifier.stop();

    // A restarted notifier does not repeat; the closing goes out once.
    const again = await start();
    expect(await again.poll()).toEqual([]);
    await writeReadings(db, [{ sensor: 'n1', at: at(3), value: 50 }]);
    await runAggregator(db, 3);
    expect((await again.poll()).map((e) => e.event)).toEqual(['closed']);
    expect(await again.poll()).toEqual([]);
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
