/**
 * Test helpers for the embedded runtime: a stack on OS-assigned ports with its own database
 * and state folder, a topology whose functions are swapped for fixtures (or kept real), and
 * small polling helpers. Timing never decides a test: waits poll for a condition and fail with
 * the last observed value when the condition is not reached.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { sleep } from '#adapters/retry.js';
import { type Endpoints, type RunningStack, type StackOptions, startStack } from '#runtime/stack.js';
import { type FunctionId, topology as realTopology, type Topology } from '#topology.js';
import { createTestDatabase } from './database.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** A deep copy of the real topology, for a test to change. */
export function copyTopology(): Mutable<Topology> {
  return structuredClone(realTopology) as Mutable<Topology>;
}

/** Points functions at fixture handlers (paths relative to the project root). */
export function withFixtures(t: Mutable<Topology>, entries: Partial<Record<FunctionId, string>>): Mutable<Topology> {
  for (const [id, entry] of Object.entries(entries) as [FunctionId, string][]) t.functions[id].entry = entry;
  return t;
}

export interface TestStack extends RunningStack {
  readonly db: pg.Pool;
  readonly stateDir: string;
  /** Stops the stack, closes the pool and removes the state folder. */
  close(): Promise<void>;
}

export async function startTestStack(options: {
  topology: Topology;
  label: string;
  host?: StackOptions['host'];
  environment?: Record<string, string>;
  databaseUrl?: string;
  services?: StackOptions['services'];
}): Promise<TestStack> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(options.label));
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `iot-first-${options.label}-`));
  mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const stack = await startStack({
    projectRoot: PROJECT_ROOT,
    stateDir,
    topology: options.topology,
    databaseUrl,
    ports: { postgres: 0, kinesis: 0, sqs: 0, lambda: 0 },
    host: { pollIntervalMs: 50, retryDelayMs: () => 20, ...options.host },
    // The host's own lines (retries, failed receives), beside the functions' logs: when a stack
    // hangs and its close() times out, the state folder is left behind with the evidence.
    log: (line: string) =>
      appendFileSync(path.join(stateDir, 'logs', 'host.log'), `${new Date().toISOString()} ${line}\n`),
    ...(options.environment ? { environment: options.environment } : {}),
    ...(options.services ? { services: options.services } : {}),
  }).catch(async (error: unknown) => {
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  });
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  return {
    ...stack,
    db,
    stateDir,
    close: async () => {
      await stack.stop();
      await db.end();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Puts records (JSON-encoded unless already bytes) with explicit partition keys; returns their sequence numbers in order. */
export async function putRecords(
  stack: RunningStack,
  records: readonly { key: string; data: unknown }[],
): Promise<{ shardId: string; sequenceNumber: string }[]> {
  const out: { shardId: string; sequenceNumber: string }[] = [];
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    const res = await stack.kinesis.send(
      new PutRecordsCommand({
        StreamName: stack.endpoints.streamName,
        Records: chunk.map((r) => ({
          PartitionKey: r.key,
          Data:
            r.data instanceof Uint8Array
              ? r.data
              : Buffer.from(typeof r.data === 'string' ? r.data : JSON.stringify(r.data)),
        })),
      }),
    );
    if (res.FailedRecordCount) throw new Error(`PutRecords: ${res.FailedRecordCount} failed`);
    for (const e of res.Records ?? []) out.push({ shardId: e.ShardId ?? '', sequenceNumber: e.SequenceNumber ?? '' });
  }
  return out;
}

/**
 * Puts readings, keyed by their sensor, into the stream of a stack known only by its READY line
 * (an `npm start` child process), with a client of its own.
 */
export async function putReadingsAt(
  endpoints: { readonly region: string; readonly kinesisEndpoint: string; readonly streamName: string },
  readings: readonly Record<string, unknown>[],
): Promise<void> {
  const kinesis = createKinesisClient({ region: endpoints.region, endpoint: endpoints.kinesisEndpoint });
  try {
    const res = await kinesis.send(
      new PutRecordsCommand({
        StreamName: endpoints.streamName,
        Records: readings.map((r) => ({ PartitionKey: String(r.sensor_id), Data: Buffer.from(JSON.stringify(r)) })),
      }),
    );
    if (res.FailedRecordCount) throw new Error(`PutRecords: ${res.FailedRecordCount} failed`);
  } finally {
    kinesis.destroy();
  }
}

/**
 * How long a condition may take on a busy machine (several suites and a benchmark sharing two
 * cores) before a wait counts as a failure. A bound for failure, never a goal: a cold start of a
 * real handler under tsx took more than 30 s there. Tests pass it to {@link waitFor} and size
 * their own timeouts from it.
 */
export const LOADED_MACHINE_BOUND_MS = 120_000;

/** Polls `probe` until `done` accepts its value; fails with the last value after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await sleep(100);
    last = await probe();
  }
  return last;
}

/** What a running stack still has to do: records not yet read or not yet acknowledged, messages in its queues. */
export interface Owed {
  readonly behindMs: number;
  readonly outstanding: number;
  readonly queued: number;
}

export async function owed(stack: RunningStack): Promise<Owed> {
  const shards = stack.host.status().shards;
  let queued = 0;
  for (const url of [stack.endpoints.errorsQueueUrl, stack.endpoints.failuresQueueUrl]) {
    const out = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    queued +=
      Number(out.Attributes?.ApproximateNumberOfMessages ?? Number.NaN) +
      Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? Number.NaN);
  }
  return {
    behindMs: Math.max(0, ...shards.map((s) => s.millisBehindLatest)),
    outstanding: shards.reduce((sum, s) => sum + s.outstanding, 0),
    queued,
  };
}

/**
 * Waits until the stack owes nothing: every shard read to its tip with nothing in flight (so
 * every rejection and notice is in a queue), and both queues empty (so the drainer has landed
 * them). After this, a count is final: a duplicate would already be there. This is the
 * condition a "sleep, then check nothing more arrived" meant.
 */
export async function waitUntilSettled(stack: RunningStack, what = 'the stack to owe nothing'): Promise<Owed> {
  return waitFor(
    () => owed(stack),
    (o) => o.behindMs === 0 && o.outstanding === 0 && o.queued === 0,
    LOADED_MACHINE_BOUND_MS,
    what,
  );
}

/** Count of rows of a query returning one `n` column. */
export async function count(db: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  const out = await db.query<{ n: string }>(sql, params);
  return Number(out.rows[0]?.n ?? 0);
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** The endpoints of the `READY {json}` line; rejects if the process exits first. */
  readonly ready: Promise<Endpoints>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const SERVE = path.join(PROJECT_ROOT, 'runtime/serve.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * `npm start`'s process (runtime/serve.ts, as the launcher runs it), without the producer, with
 * status lines instead of the panel and a free Lambda port; `env` replaces the process's own.
 */
export function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv): ServeProcess {
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      SERVE,
      '--no-producer',
      '--quiet',
      '--lambda-port',
      '0',
      '--mqtt-port',
      '0',
      '--api-port',
      '0',
      ...args,
    ],
    {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const ready = new Promise<Endpoints>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line) resolve(JSON.parse(line.slice('READY '.length)) as Endpoints);
    });
    child.on('exit', () => reject(new Error(`exited before READY: ${err}`)));
  });
  ready.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, ready, exited, stderr: () => err };
}
