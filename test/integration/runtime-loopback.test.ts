/**
 * Every server `npm start` runs listens on loopback only (issue 9, item 8): the test starts
 * the whole embedded stack as `npm start` does (its own PostgreSQL, kinesalite, fauxqs, the
 * Lambda API and any door registered later) and reads every listening socket of its process
 * tree from /proc, so a server added later that listens on all interfaces fails it.
 */
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import { isLoopback, listenersOf } from '../support/runtime-sockets.js';
import { type ServeProcess, spawnServe } from '../support/runtime-stack.js';

const PROC = process.platform === 'linux';
if (!PROC) console.warn('runtime-loopback: /proc is Linux-only; the socket checks are skipped');

let stateDir: string;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-loopback-'));
});
afterAll(async () => {
  if (serve && serve.child.exitCode === null) {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  await removeStateDir(stateDir);
});

describe('listening sockets', () => {
  it.skipIf(!PROC)('the scan sees a server of this process listening on all interfaces', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const mine = listenersOf(process.pid).find((l) => l.port === port);
      expect(mine?.address).toBe('0.0.0.0');
      expect(isLoopback(mine?.address ?? '')).toBe(false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.skipIf(!PROC)('every server of a running `npm start` listens on loopback only', async () => {
    const { DATABASE_URL: _d, KINESIS_ENDPOINT: _k, SQS_ENDPOINT: _s, ...env } = process.env;
    serve = spawnServe(
      ['--state-dir', stateDir, '--pg-port', '0', '--kinesis-port', '0', '--sqs-port', '0', '--fresh'],
      env,
    );
    const endpoints = await serve.ready;
    const listeners = listenersOf(serve.child.pid as number);
    // The scan found the stack's own servers, so an empty or partial scan cannot pass.
    const ports = new Set(listeners.map((l) => l.port));
    for (const url of [
      endpoints.kinesisEndpoint,
      endpoints.sqsEndpoint,
      endpoints.lambdaEndpoint,
      endpoints.databaseUrl,
    ])
      expect(ports, url).toContain(Number(new URL(url).port));
    expect(listeners.filter((l) => !isLoopback(l.address))).toEqual([]);
    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
  });
});
