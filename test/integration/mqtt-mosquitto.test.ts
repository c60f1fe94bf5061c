/**
 * A third-party client against the local broker: Debian's mosquitto_pub (libmosquitto), with
 * the certificate files `npm run devices -- register` writes, exactly as the README tells a user
 * to publish by hand. It proves the broker speaks plain MQTT 3.1.1 over TLS, not just mqtt.js.
 *
 * Needs the mosquitto-clients package: .ci/run installs it; elsewhere, when it is missing, the
 * tests are skipped with the reason printed, and under CI=true its absence fails.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDeviceFiles } from '#runtime/mqtt/device-files.js';
import type { RunningMqttDoor } from '#runtime/mqtt/door.js';
import { deviceTopicFor } from '#topology.js';
import { type RunningKinesis, startKinesis } from '../support/emulators.js';
import { aReading } from '../support/factories.js';
import { type DoorParts, doorParts, readStream, startDoor } from '../support/mqtt-door.js';

const run = promisify(execFile);
const hasMosquitto = spawnSync('mosquitto_pub', ['--help']).error === undefined;
const MISSING = 'mosquitto_pub not installed (apt-get install -y mosquitto-clients; .ci/run does)';
if (!hasMosquitto) {
  if (process.env.CI === 'true') throw new Error(`${MISSING}: required under CI`);
  console.warn(`SKIPPED mqtt-mosquitto tests: ${MISSING}`);
}

const STREAM = 'mqtt_mosquitto_test';
let kinesis: RunningKinesis;
let shards: string[];
let parts: DoorParts;
let door: RunningMqttDoor;
let outDir: string;

beforeAll(async () => {
  if (!hasMosquitto) return;
  kinesis = await startKinesis();
  shards = await kinesis.createStream(STREAM, 1);
  parts = doorParts();
  door = await startDoor(parts, { kinesis: kinesis.client, streamName: STREAM });
  outDir = mkdtempSync(path.join(tmpdir(), 'iot-mosquitto-'));
});

afterAll(async () => {
  await door?.close();
  await kinesis?.stop();
  parts?.cleanup();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

function mosquittoPub(thing: string, dir: string, topic: string, message: string) {
  const files = {
    ca: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'certificate.pem.crt'),
    key: path.join(dir, 'private.pem.key'),
  };
  return run('mosquitto_pub', [
    ...['-h', '127.0.0.1', '-p', String(door.port), '-V', 'mqttv311', '-q', '1'],
    ...['--cafile', files.ca, '--cert', files.cert, '--key', files.key],
    ...['-i', thing, '-t', topic, '-m', message],
  ]);
}

describe.skipIf(!hasMosquitto)(`mosquitto_pub as a device${hasMosquitto ? '' : ` (skipped: ${MISSING})`}`, () => {
  it('publishes a reading with the registered files; the bytes reach the stream under its identity', async () => {
    const dir = path.join(outDir, 'pres-0300');
    writeDeviceFiles(dir, { ...parts.register('pres-0300'), caCertificatePem: parts.ca.caCertificatePem });
    const reading = JSON.stringify(aReading({ sensor_id: 'pres-0300' }));
    await mosquittoPub('pres-0300', dir, deviceTopicFor('pres-0300'), reading);
    const records = await readStream(kinesis.client, STREAM, shards);
    expect(records.filter((r) => r.partitionKey === 'mqtt:pres-0300').map((r) => r.data)).toEqual([reading]);
  });

  it("is refused on another device's topic, and nothing lands", async () => {
    const dir = path.join(outDir, 'pres-0301');
    writeDeviceFiles(dir, { ...parts.register('pres-0301'), caCertificatePem: parts.ca.caCertificatePem });
    // mosquitto_pub exits 0 once its publish is written even when the broker then drops the
    // connection (3.1.1 has no negative PUBACK); the broker's log and the stream tell the truth.
    await mosquittoPub('pres-0301', dir, deviceTopicFor('pres-0302'), '{"sensor_id":"pres-0302"}').catch(
      () => undefined,
    );
    expect(parts.logs.some((l) => l.action === 'publish' && l.clientId === 'pres-0301')).toBe(true);
    const records = await readStream(kinesis.client, STREAM, shards);
    expect(records.filter((r) => r.partitionKey === 'mqtt:pres-0301' || r.data.includes('pres-0302'))).toEqual([]);
  });

  it('is refused with a wrong client id: CONNACK 2, reported by mosquitto_pub', async () => {
    const dir = path.join(outDir, 'pres-0303');
    writeDeviceFiles(dir, { ...parts.register('pres-0303'), caCertificatePem: parts.ca.caCertificatePem });
    const failure = await mosquittoPub('somebody-else', dir, deviceTopicFor('pres-0303'), '{}').then(
      () => undefined,
      (error: { stderr: string; code: number }) => error,
    );
    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toMatch(/identifier rejected/i);
  });
});
