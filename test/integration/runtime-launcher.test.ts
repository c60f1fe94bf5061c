/**
 * `npm start` itself: npm, its shell, the launcher (runtime/start.ts) and the stack it runs in
 * a process group of its own (runtime/serve.ts). A terminal's Ctrl-C is a SIGINT to the whole
 * foreground group, which is what these tests send (npm is started as the leader of a new
 * group); a supervisor's stop is a SIGTERM to the npm process alone.
 *
 * - Ctrl-C: the stack stops gracefully (its "stopped" line, endpoints.json and stack.pid
 *   removed, no process of the start left: npm, launcher, stack, function containers);
 * - a second Ctrl-C during that stop: the stack exits at once, without finishing it;
 * - SIGTERM to npm: npm's shell dies without passing it on; the launcher notices and the stack
 *   still stops gracefully instead of running on, orphaned.
 *
 * The database is this file's; kinesalite and fauxqs are the stack's own, on free ports.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqsClient } from '#adapters/aws/clients.js';
import type { Endpoints } from '#runtime/stack.js';
import { topology } from '#topology.js';
import { createTestDatabase } from '../support/database.js';
import { localLambdaClient } from '../support/invoke-api-stack.js';
import { LOADED_MACHINE_BOUND_MS, PROJECT_ROOT, waitFor } from '../support/runtime-stack.js';

const stateDirs: string[] = [];
const databaseUrls: string[] = [];

afterAll(async () => {
  // A test that failed may have left its start running: end what this file started, and only that.
  for (const url of databaseUrls)
    for (const entry of processesOf(url)) {
      try {
        process.kill(Number.parseInt(entry, 10), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
});

interface NpmStart {
  readonly npm: ChildProcess;
  readonly stateDir: string;
  /** This start's own database: every process of the start (npm, launcher, stack, containers) has it in its environment. */
  readonly databaseUrl: string;
  readonly ready: Promise<Endpoints>;
  /** stdout and stderr of everything in the group (the launcher and the stack inherit npm's). */
  output(): string;
}

async function npmStart(): Promise<NpmStart> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-launcher-'));
  stateDirs.push(stateDir);
  // A database per start: a new state folder on a database that already has the local API
  // token cannot start (the query API's token is created once per state folder).
  const databaseUrl = await createTestDatabase('launcher');
  databaseUrls.push(databaseUrl);
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl };
  for (const name of ['KINESIS_ENDPOINT', 'SQS_ENDPOINT', 'IOT_FIRST_STATE_DIR']) delete env[name];
  const npm = spawn(
    'npm',
    [
      'start',
      '--silent',
      '--',
      '--state-dir',
      stateDir,
      '--no-producer',
      '--quiet',
      ...['--kinesis-port', '0', '--sqs-port', '0', '--lambda-port', '0', '--mqtt-port', '0', '--api-port', '0'],
    ],
    // A group of its own, as a shell gives a foreground job: the group is what Ctrl-C signals.
    { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  npm.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  npm.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const ready = waitFor(
    async () => out,
    (o) => o.includes('\nREADY ') || o.startsWith('READY '),
    LOADED_MACHINE_BOUND_MS,
    'the READY line',
  ).then((o) => {
    const line = o.split('\n').find((l) => l.startsWith('READY ')) ?? '';
    return JSON.parse(line.slice('READY '.length)) as Endpoints;
  });
  ready.catch(() => undefined);
  return { npm, stateDir, databaseUrl, ready, output: () => out };
}

/** The stack's process: the pid it locked its state folder with. */
function stackPid(stateDir: string): number {
  return Number.parseInt(readFileSync(path.join(stateDir, 'stack.pid'), 'utf8'), 10);
}

/** Running, as opposed to gone or a zombie waiting for its parent. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function gone(pid: number, what: string): Promise<void> {
  await waitFor(
    async () => running(pid),
    (r) => !r,
    LOADED_MACHINE_BOUND_MS,
    what,
  );
}

/** Running processes whose environment holds `DATABASE_URL=<url>`: what is left of one start. */
function processesOf(databaseUrl: string): string[] {
  const entry = `DATABASE_URL=${databaseUrl}`;
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (environ.includes(entry) && running(Number(name)))
        found.push(`${name}: ${readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 160)}`);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Nothing of the start keeps running: npm, its shell, the launcher, the stack, its containers. */
async function nothingLeft(started: NpmStart): Promise<void> {
  await waitFor(
    async () => processesOf(started.databaseUrl),
    (left) => left.length === 0,
    LOADED_MACHINE_BOUND_MS,
    'every process of the start to exit',
  );
}

/** Runs the aggregator once through the Invoke API, so a function container is running. */
async function warmContainer(endpoints: Endpoints, started: NpmStart): Promise<void> {
  const lambda = localLambdaClient(endpoints.lambdaEndpoint, endpoints.region);
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: 'aggregator', Payload: new TextEncoder().encode('{}') }),
  );
  lambda.destroy();
  expect(out.FunctionError).toBeUndefined();
  // npm, its shell, the launcher, the stack and at least one container.
  expect(processesOf(started.databaseUrl).length).toBeGreaterThanOrEqual(4);
}

describe('npm start', () => {
  it(
    'Ctrl-C stops the stack gracefully',
    async () => {
      const started = await npmStart();
      await warmContainer(await started.ready, started);
      const pid = stackPid(started.stateDir);
      expect(running(pid)).toBe(true);
      process.kill(-(started.npm.pid as number), 'SIGINT');
      await gone(pid, 'the stack to stop after Ctrl-C');
      await nothingLeft(started);
      expect(started.output()).toContain('Ctrl-C (SIGINT): finishing in-flight batches and stopping');
      expect(started.output()).toContain('iot-first: stopped');
      expect(existsSync(path.join(started.stateDir, 'endpoints.json'))).toBe(false);
      expect(existsSync(path.join(started.stateDir, 'stack.pid'))).toBe(false);
    },
    2 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    'a second Ctrl-C during the graceful stop exits at once',
    async () => {
      const started = await npmStart();
      const endpoints = await started.ready;
      const pid = stackPid(started.stateDir);
      // A message the drainer cannot understand stays queued, so the graceful stop would wait
      // for the drainer (up to 10 s): the second Ctrl-C arrives while it waits.
      const sqs = createSqsClient({ region: endpoints.region, endpoint: endpoints.sqsEndpoint });
      const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: topology.queues.errors.name }))).QueueUrl;
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ not: 'a rejection' }) }));
      sqs.destroy();
      process.kill(-(started.npm.pid as number), 'SIGINT');
      await waitFor(
        async () => started.output(),
        (o) => o.includes('finishing in-flight batches and stopping'),
        LOADED_MACHINE_BOUND_MS,
        'the graceful stop to begin',
      );
      // Measured from the stack's message, which comes after the launcher took the first signal
      // (measured from the test's own kill, a loaded machine could deliver it late enough that
      // the second press fell within the launcher's one-second window and was counted once).
      const firstAt = Date.now();
      // One Ctrl-C can reach the launcher twice (from the terminal and from npm) within a
      // second and counts once: the second press comes after that second.
      await waitFor(
        async () => Date.now() - firstAt,
        (ms) => ms > 1_100,
        5_000,
        'a second to pass',
      );
      expect(running(pid)).toBe(true);
      process.kill(-(started.npm.pid as number), 'SIGINT');
      await gone(pid, 'the stack to exit after the second Ctrl-C');
      await nothingLeft(started);
      expect(started.output()).toContain('again, exiting without waiting');
      expect(started.output()).not.toContain('iot-first: stopped');
    },
    2 * LOADED_MACHINE_BOUND_MS,
  );

  it(
    'SIGTERM to npm stops the stack gracefully',
    async () => {
      const started = await npmStart();
      await warmContainer(await started.ready, started);
      const pid = stackPid(started.stateDir);
      started.npm.kill('SIGTERM');
      await gone(pid, 'the stack to stop after SIGTERM to npm');
      await nothingLeft(started);
      expect(started.output()).toContain('finishing in-flight batches and stopping');
      expect(started.output()).toContain('iot-first: stopped');
      expect(existsSync(path.join(started.stateDir, 'endpoints.json'))).toBe(false);
      expect(existsSync(path.join(started.stateDir, 'stack.pid'))).toBe(false);
    },
    2 * LOADED_MACHINE_BOUND_MS,
  );
});
