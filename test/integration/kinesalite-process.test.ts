/**
 * kinesalite in a process of its own (runtime/embedded/emulators.ts, kinesalite-process.mjs):
 * it serves from another process, keeps a persisted stream across a stop and a start, turns
 * what keeps it from starting into an error that names the cause, and never outlives its
 * parent — whether the parent stops it, is killed, or a terminal's Ctrl-C reaches both.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CreateStreamCommand, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { startKinesalite } from '#runtime/embedded/emulators.js';
import { PROJECT_ROOT, waitFor } from '../support/runtime-stack.js';

const REGION = 'us-east-1';
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-kinesalite-'));
  dirs.push(dir);
  return dir;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function streams(url: string): Promise<string[]> {
  const client = createKinesisClient({ region: REGION, endpoint: url });
  try {
    return (await client.send(new ListStreamsCommand({}))).StreamNames ?? [];
  } finally {
    client.destroy();
  }
}

describe('kinesalite in its own process', () => {
  it('serves from a child process and keeps a persisted stream across a stop and a start', async () => {
    const dataDir = path.join(await tempDir(), 'kinesis');
    const first = await startKinesalite({ port: 0, dataDir });
    expect(first.pid).not.toBe(process.pid);
    expect(running(first.pid)).toBe(true);
    const client = createKinesisClient({ region: REGION, endpoint: first.url });
    await client.send(new CreateStreamCommand({ StreamName: 'kept', ShardCount: 1 }));
    client.destroy();
    await first.stop();
    expect(running(first.pid)).toBe(false);

    const second = await startKinesalite({ port: 0, dataDir });
    try {
      expect(await streams(second.url)).toEqual(['kept']);
    } finally {
      await second.stop();
    }
  });

  it('fails to start with the cause named: a port in use, a LevelDB folder another process holds', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      await expect(startKinesalite({ port: taken })).rejects.toThrow(
        new RegExp(`kinesalite could not start on 127\\.0\\.0\\.1:${taken}: EADDRINUSE`),
      );
    } finally {
      blocker.close();
    }

    const dataDir = path.join(await tempDir(), 'kinesis');
    const holder = await startKinesalite({ port: 0, dataDir });
    try {
      await expect(startKinesalite({ port: 0, dataDir })).rejects.toThrow(
        `cannot open the stream's LevelDB in ${dataDir}`,
      );
      // The holder is untouched by the failed start.
      expect(await streams(holder.url)).toEqual([]);
    } finally {
      await holder.stop();
    }
  });

  it('ignores SIGINT (the parent decides when the stream goes) and stops on SIGTERM', async () => {
    const unexpected: string[] = [];
    const kinesis = await startKinesalite({ port: 0, onUnexpectedExit: (line) => unexpected.push(line) });
    process.kill(kinesis.pid, 'SIGINT');
    // Still serving after the signal was delivered: a request answered after it proves it.
    expect(await streams(kinesis.url)).toEqual([]);
    expect(running(kinesis.pid)).toBe(true);
    process.kill(kinesis.pid, 'SIGTERM');
    await waitFor(
      async () => running(kinesis.pid),
      (alive) => !alive,
      30_000,
      'kinesalite to exit on SIGTERM',
    );
    await waitFor(
      async () => unexpected.length,
      (n) => n === 1,
      30_000,
      'the unexpected exit to be reported',
    );
    expect(unexpected[0]).toMatch(/kinesalite \(pid \d+, port \d+\) exited unexpectedly \(exit status 0\)/);
    await kinesis.stop();
  });

  it('exits when its parent is killed (SIGKILL): no orphan', async () => {
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(PROJECT_ROOT, 'test/fixtures/processes/kinesalite-parent.ts')],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<void>((resolve) => parent.once('exit', () => resolve()));
    const lines = createInterface({ input: parent.stdout });
    const child = await new Promise<{ pid: number; port: number }>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.startsWith('{')) resolve(JSON.parse(line) as { pid: number; port: number });
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited first (${code})`)));
    });
    expect(await streams(`http://127.0.0.1:${child.port}`)).toEqual([]);
    parent.kill('SIGKILL');
    await exited;
    await waitFor(
      async () => running(child.pid),
      (alive) => !alive,
      30_000,
      `kinesalite (pid ${child.pid}) to exit after its parent was killed`,
    );
  });
});
