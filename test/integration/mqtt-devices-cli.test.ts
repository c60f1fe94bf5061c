/**
 * `npm run devices` as a user runs it: the real CLI in its own process against a local CA in a
 * temp state folder, and `simulate` against a real broker with real MQTT clients.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localCaDir } from '#runtime/mqtt/device-directory.js';
import type { RunningMqttDoor } from '#runtime/mqtt/door.js';
import { type RunningKinesis, startKinesis } from '../support/emulators.js';
import { type DoorParts, doorParts, readStream, startDoor } from '../support/mqtt-door.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'runtime', 'devices.ts');

let work: string;
let stateDir: string;

function devices(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [CLI, ...args, '--state-dir', stateDir], { cwd: ROOT, env: { ...process.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'iot-devices-cli-'));
  stateDir = path.join(work, 'state');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm run devices', () => {
  it('register writes the certificate and a 0600 key outside the checkout and never prints the key', async () => {
    const out = path.join(work, 'hum-0001');
    const run = await devices('register', 'hum-0001', '--out', out);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.stdout);
    expect(answer).toMatchObject({ target: 'local', thingName: 'hum-0001', topic: 'iot/sensors/hum-0001/readings' });
    expect(readFileSync(answer.files.privateKey, 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    expect(statSync(answer.files.privateKey).mode & 0o777).toBe(0o600);
    expect(readFileSync(answer.files.ca, 'utf8')).toBe(readFileSync(path.join(localCaDir(stateDir), 'ca.crt'), 'utf8'));
    expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY/);
    expect(run.stderr).toContain('mosquitto_pub');
  });

  it('refuses to write a key into the checkout, and creates nothing there', async () => {
    const inside = path.join(ROOT, 'devices-should-not-exist');
    const run = await devices('register', 'hum-0002', '--out', inside);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/refusing to write a device's private key inside the checkout/);
    expect(existsSync(inside)).toBe(false);
  });

  it('refuses a sensor id that is not a thing name (exit 2)', async () => {
    const run = await devices('register', 'iot/sensors/#', '--out', path.join(work, 'x'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not a valid thing name/);
  });

  it('list shows the device; revoke revokes it once', async () => {
    expect(JSON.parse((await devices('list')).stdout)).toEqual([
      expect.objectContaining({ thingName: 'hum-0001', status: 'ACTIVE' }),
    ]);
    const revoked = await devices('revoke', 'hum-0001');
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ thingName: 'hum-0001', revoked: 1 });
    expect(JSON.parse((await devices('list')).stdout)[0].status).toBe('REVOKED');
    expect((await devices('revoke', 'hum-0001')).code).toBe(1);
  });
});

describe('npm run devices -- simulate', () => {
  const STREAM = 'devices_cli_test';
  let kinesis: RunningKinesis;
  let shards: string[];
  let parts: DoorParts;
  let door: RunningMqttDoor;

  beforeAll(async () => {
    kinesis = await startKinesis();
    shards = await kinesis.createStream(STREAM, 1);
    parts = doorParts(stateDir); // the CLI's own CA and registry
    door = await startDoor(parts, { kinesis: kinesis.client, streamName: STREAM });
  });
  afterAll(async () => {
    await door?.close();
    await kinesis?.stop();
  });

  it('publishes through real clients and answers with sent, failed and expected; a second run reuses the devices', async () => {
    const args = ['simulate', '--devices', '3', '--count', '30', '--seed', '5', '--mismatch-rate', '0.2'];
    const first = await devices(...args, '--endpoint', door.endpoint, '--devices-dir', path.join(work, 'fleet'));
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ target: 'local', devices: 3, count: 30, sent: 30, failed: 0 });
    expect(Object.values(summary.expected as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(30);
    expect((await readStream(kinesis.client, STREAM, shards)).length).toBe(30);
    const registered = JSON.parse((await devices('list')).stdout).length;

    const second = await devices(...args, '--endpoint', door.endpoint, '--devices-dir', path.join(work, 'fleet'));
    expect(JSON.parse(second.stdout).expected).toEqual(summary.expected); // same seed, same readings
    expect(JSON.parse((await devices('list')).stdout).length).toBe(registered); // no new identities
  });
});
