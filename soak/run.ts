/**
 * One soak run: the services (infra.ts) and the stack (stack-process.ts) started on one state
 * folder, every door fed at the rate asked for, the faults injected on their seeded schedule
 * (chaos.ts), a progress line every few seconds, then the pipeline left to settle, the
 * aggregator run once more, and the verdict drawn from the data (verdict.ts).
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';
import { sleep } from '#adapters/retry.js';
import { freePort } from '#runtime/free-port.js';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import { topology } from '#topology.js';
import { type FaultName, type FaultRecord, inject, schedule, seededRandom } from './chaos.js';
import { KafkaSender, MqttDevices, ProducerDoor, sendHostile } from './doors.js';
import { REGION, SoakInfra } from './infra.js';
import { Ledger } from './ledger.js';
import { memorySample } from './probes.js';
import { StackProcess } from './stack-process.js';
import { judge, type Verdict } from './verdict.js';

export interface SoakOptions {
  readonly minutes: number;
  /** Readings per second over all doors. */
  readonly rate: number;
  readonly seed: number;
  /** Faults to inject (empty: no chaos). */
  readonly faults: readonly FaultName[];
  /** Feed the Kafka door too (needs kcat). */
  readonly kafka: boolean;
  /** Latency target for "healed": a reading's row within this many ms of its send. */
  readonly latencyTargetMs: number;
  /** Keep the state folder (logs, data) after the run. */
  readonly keepState: boolean;
  readonly progress: (line: string) => void;
  /** Ends the feeding early (Ctrl-C); the run then settles and is judged as usual. */
  readonly signal?: AbortSignal;
}

export interface MemoryFigures {
  readonly firstMb: number;
  readonly lastMb: number;
  readonly peakMb: number;
  readonly growthMb: number;
}

export interface SoakReport {
  readonly options: Omit<SoakOptions, 'progress'>;
  readonly startedAt: string;
  readonly feedSeconds: number;
  /** Until the pipeline had caught up with its cold start (faults and "outside faults" latency begin there). */
  readonly warmUpSeconds: number | undefined;
  readonly settleSeconds: number;
  readonly loadAverage: { readonly before: number[]; readonly after: number[] };
  readonly sendErrors: { readonly count: number; readonly last: string };
  readonly faults: (FaultRecord & { healMs?: number })[];
  readonly memory: Record<string, MemoryFigures>;
  readonly stop: { readonly graceful: boolean; readonly ms: number };
  /** The stack process exiting by itself (each one restarted so the run could go on). */
  readonly stackCrashes: readonly string[];
  readonly stateDir: string;
  readonly verdict: Verdict;
  /** Clean verdict, every fault happened, and the stack stopped by itself. */
  readonly ok: boolean;
}

/** Shares of the rate per door. */
const SHARES = { producer: 0.5, mqtt: 0.2, kafka: 0.3 } as const;
const PROGRESS_EVERY_MS = 5_000;
/** A settled pipeline: queues empty and no new row for this long. */
const SETTLED_FOR_MS = 15_000;
const SETTLE_LIMIT_MS = 600_000;

async function ports<T extends string>(names: readonly T[]): Promise<Record<T, number>> {
  const out = {} as Record<T, number>;
  for (const n of names) out[n] = await freePort();
  return out;
}

async function rowCount(db: pg.Pool): Promise<number | undefined> {
  try {
    const r = await db.query<{ n: string }>(
      'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n',
    );
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return undefined;
  }
}

async function queued(sqs: ReturnType<typeof createSqsClient>, urls: readonly string[]): Promise<number | undefined> {
  try {
    let n = 0;
    for (const url of urls) {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      n +=
        Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
        Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    }
    return n;
  } catch {
    return undefined;
  }
}

function memoryFigures(samples: Record<string, number>[]): Record<string, MemoryFigures> {
  // The first fifth of the run is warm-up (cold starts, caches): growth counts from after it.
  const from = samples.slice(Math.floor(samples.length / 5));
  const groups = new Set(from.flatMap((s) => Object.keys(s)));
  const out: Record<string, MemoryFigures> = {};
  for (const g of groups) {
    const values = from.map((s) => s[g]).filter((v): v is number => v !== undefined);
    if (values.length === 0) continue;
    const firstMb = values[0] as number;
    const lastMb = values.at(-1) as number;
    out[g] = { firstMb, lastMb, peakMb: Math.max(...values), growthMb: Math.round((lastMb - firstMb) * 10) / 10 };
  }
  return out;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const say = options.progress;
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-soak-'));
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const loadBefore = os.loadavg();
  const p = await ports(['postgres', 'kinesis', 'sqs', 'lambda', 'mqtt', 'api'] as const);
  const infra = new SoakInfra(stateDir, p, (line) => say(`  ${line}`));
  const faults = options.faults.filter((f) => f !== 'stream-restart' || infra.kinesisPersistent);
  if (faults.length < options.faults.length)
    say('stream-restart left out: kinesalite cannot persist here (leveldown does not load)');
  say(`state folder ${stateDir}; starting PostgreSQL, kinesalite, fauxqs${options.kafka ? ', Kafka (kcat)' : ''}`);
  await infra.start(options.kafka);
  const stack = new StackProcess({
    stateDir,
    ports: { lambda: p.lambda, mqtt: p.mqtt, api: p.api },
    databaseUrl: infra.databaseUrl,
    kinesisEndpoint: infra.kinesisEndpoint,
    sqsEndpoint: infra.sqsEndpoint,
    kafkaBootstrap: infra.kafka?.bootstrap,
    scheduleSpeedUp: 6,
    readyTimeoutMs: 300_000,
  });
  const ledger = new Ledger();
  const kinesis = createKinesisClient({ region: REGION, endpoint: infra.kinesisEndpoint });
  const sqs = createSqsClient({ region: REGION, endpoint: infra.sqsEndpoint });
  const db = new pg.Pool({ connectionString: infra.databaseUrl, max: 2 });
  db.on('error', () => undefined);
  let devices: MqttDevices | undefined;
  try {
    say('starting the stack (runtime/serve.ts)');
    let ready = await stack.start();
    devices = new MqttDevices({
      stateDir,
      endpoint: () => ready.mqttEndpoint as string,
      ledger,
      runSeed: options.seed,
    });
    await devices.connect();
    const producer = new ProducerDoor(ledger, options.seed, () => ready.lambdaEndpoint as string);
    const kafka = infra.kafka
      ? new KafkaSender(infra.kafka, ledger, options.seed, topology.kafkaSources[0]?.topic ?? 'iot_sensor_data')
      : undefined;
    const random = seededRandom(options.seed);
    let multiplier = 1;
    let currentFault = '-';
    const faultRecords: FaultRecord[] = [];
    const sends = new Set<Promise<void>>();
    const track = (promise: Promise<void>) => {
      sends.add(promise);
      void promise.finally(() => sends.delete(promise));
    };
    const durationMs = options.minutes * 60_000;
    const started = Date.now();
    const memory: Record<string, number>[] = [];

    // Faults begin once the pipeline has caught up with its cold start (the backlog at most a few
    // seconds of traffic) or half the run has gone: a fault during the start-up backlog would be
    // measured against the backlog, not against a running pipeline.
    let caughtUpAt: number | undefined;
    const chaos = (async () => {
      while (faults.length > 0 && caughtUpAt === undefined && Date.now() - started < durationMs / 2) await sleep(500);
      const clock = Math.min(caughtUpAt ?? Date.now(), Date.now());
      const plan = schedule({ durationMs: durationMs - (clock - started), faults, random });
      for (const step of plan) {
        const wait = clock + step.at - Date.now();
        if (wait > 0) await sleep(wait);
        currentFault = step.name;
        const record = await inject(
          step.name,
          {
            infra,
            stack,
            setMultiplier: (m) => {
              multiplier = m;
            },
            sentSoFar: () => ledger.counts.sent,
            sendHostile: (n) => sendHostile(kinesis, topology.stream.name, ledger, n, random),
            afterStackRestart: async () => {
              ready = stack.ready ?? ready;
            },
            log: say,
          },
          random,
        );
        faultRecords.push(record);
        currentFault = '-';
      }
    })();

    // Feed: one tick a second, the rate split over the doors.
    let lastProgress = started;
    let lastRows = 0;
    for (let tick = 0; Date.now() - started < durationMs && !options.signal?.aborted; tick++) {
      if (stack.crashed && currentFault !== 'stack-kill') {
        say(`THE STACK CRASHED (${stack.crashes.at(-1)}); restarting it so the run can go on`);
        ready = await stack.start();
      }
      const due = started + tick * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      const n = options.rate * multiplier;
      const share = kafka ? SHARES : { producer: 0.6, mqtt: 0.4, kafka: 0 };
      track(producer.send(Math.round(n * share.producer)));
      devices.send(Math.round(n * share.mqtt));
      if (kafka) track(kafka.send(Math.round(n * share.kafka)));
      if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now();
        const rows = await rowCount(db);
        memory.push(memorySample(stack.pid, stateDir));
        const c = ledger.counts;
        say(
          `[${Math.round((Date.now() - started) / 1000)}s] sent ${c.sent} acked ${c.acked} rows ${rows ?? '?'} (+${rows === undefined ? '?' : rows - lastRows}) lag ${rows === undefined ? '?' : c.acked - rows} records, send errors ${c.sendErrors}, fault ${currentFault}`,
        );
        lastRows = rows ?? lastRows;
        if (
          caughtUpAt === undefined &&
          rows !== undefined &&
          rows > 0 &&
          c.acked - rows <= Math.max(50, options.rate * 3)
        )
          caughtUpAt = Date.now();
      }
    }
    const feedSeconds = Math.round((Date.now() - started) / 1000);
    say(`feeding stopped after ${feedSeconds} s; waiting for the faults, the senders and the pipeline to settle`);
    await chaos;
    await Promise.race([Promise.all(sends), sleep(180_000)]);
    for (let i = 0; i < 600 && devices.pending() > 0; i++) await sleep(200);

    const settleStart = Date.now();
    const queueUrls = [ready.errorsQueueUrl as string, ready.failuresQueueUrl as string];
    let stableSince = Date.now();
    let previous = -1;
    while (Date.now() - settleStart < SETTLE_LIMIT_MS) {
      const rows = await rowCount(db);
      const q = await queued(sqs, queueUrls);
      const kafkaLag = kafka ? await kafka.lag(topology.kafkaSources[0]?.consumerGroupId ?? 'iot-kafka-bridge') : 0;
      if (rows === undefined || q === undefined || q > 0 || kafkaLag !== 0 || rows !== previous)
        stableSince = Date.now();
      previous = rows ?? previous;
      if (Date.now() - stableSince >= SETTLED_FOR_MS) break;
      if ((Date.now() - settleStart) % 10_000 < 1_000)
        say(`  settling: rows ${rows ?? '?'}, queued ${q ?? '?'}, Kafka lag ${kafkaLag ?? '?'}`);
      await sleep(1_000);
    }
    const settleSeconds = Math.round((Date.now() - settleStart) / 1000);
    memory.push(memorySample(stack.pid, stateDir));
    say(`settled after ${settleSeconds} s; running the aggregator once more`);
    const aggregated = await fetch(`${ready.lambdaEndpoint}/2015-03-31/functions/iot-aggregator/invocations`, {
      method: 'POST',
      body: '{}',
    });
    if (!aggregated.ok || aggregated.headers.get('x-amz-function-error'))
      say(`the aggregator failed: ${(await aggregated.text()).slice(0, 300)}`);
    else await aggregated.text();

    if (stack.crashed) {
      say(`THE STACK CRASHED (${stack.crashes.at(-1)}); restarting it to settle`);
      ready = await stack.start();
    }
    await kafka?.close();
    const verdict = await judge({
      db,
      sqs,
      ledger,
      faults: faultRecords,
      latencyTargetMs: options.latencyTargetMs,
      warmUpUntil: caughtUpAt ?? started + Math.min(20_000, durationMs * 0.2),
    });
    say('stopping the stack (SIGTERM)');
    const stop = await stack.stop(90_000);
    const report: SoakReport = {
      options: {
        minutes: options.minutes,
        rate: options.rate,
        seed: options.seed,
        faults: options.faults,
        kafka: options.kafka,
        latencyTargetMs: options.latencyTargetMs,
        keepState: options.keepState,
      },
      startedAt: new Date(started).toISOString(),
      feedSeconds,
      warmUpSeconds: caughtUpAt === undefined ? undefined : Math.round((caughtUpAt - started) / 1000),
      settleSeconds,
      loadAverage: { before: loadBefore, after: os.loadavg() },
      sendErrors: { count: ledger.counts.sendErrors, last: ledger.lastSendError },
      faults: faultRecords.map((f) => ({ ...f, ...(f.healedAt ? { healMs: f.healedAt - f.startedAt } : {}) })),
      memory: memoryFigures(memory),
      stop,
      stackCrashes: stack.crashes,
      stateDir,
      verdict,
      ok: verdict.clean && faultRecords.every((f) => f.happened) && stop.graceful && stack.crashes.length === 0,
    };
    return report;
  } finally {
    await devices?.close();
    await stack.stop(30_000).catch(() => undefined);
    await db.end().catch(() => undefined);
    kinesis.destroy();
    sqs.destroy();
    await infra.stop();
    if (!options.keepState) {
      await removeStateDir(stateDir).catch(() => undefined);
    }
  }
}
