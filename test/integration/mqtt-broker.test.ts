/**
 * The local MQTT door against real parts: the aedes broker on TLS with certificates from the
 * local CA, real mqtt.js clients presenting their own certificates, the rule engine writing into
 * kinesalite. The authorization matrix of issue 11 item 6: each hostile case is refused with its
 * MQTT code and a log line, and nothing of it reaches the stream.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningMqttDoor } from '#runtime/mqtt/door.js';
import { deviceTopicFor } from '#topology.js';
import { type RunningKinesis, startKinesis } from '../support/emulators.js';
import { aReading } from '../support/factories.js';
import {
  connectDevice,
  type DoorParts,
  deviceOptions,
  doorParts,
  readStream,
  startDoor,
} from '../support/mqtt-door.js';

const STREAM = 'mqtt_broker_test';
let kinesis: RunningKinesis;
let shards: string[];
let parts: DoorParts;
let door: RunningMqttDoor;
const clients: MqttClient[] = [];

beforeAll(async () => {
  kinesis = await startKinesis();
  shards = await kinesis.createStream(STREAM, 2);
  parts = doorParts();
  door = await startDoor(parts, { kinesis: kinesis.client, streamName: STREAM });
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await door?.close();
  await kinesis?.stop();
  parts?.cleanup();
});

beforeEach(() => {
  parts.logs.length = 0;
});

async function connect(clientId: string, issued?: Parameters<typeof deviceOptions>[2]): Promise<MqttClient> {
  const client = await connectDevice(door.endpoint, deviceOptions(parts, clientId, issued));
  clients.push(client);
  return client;
}

function publish(client: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
}

/** Resolves when the broker drops the connection; fails if the publish was acknowledged instead. */
function publishRefused(client: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('close', () => resolve());
    client.publish(topic, payload, { qos: 1 }, (error) => {
      if (!error) reject(new Error('the broker acknowledged a publish it must refuse'));
    });
  });
}

async function refusalCode(clientId: string, issued?: Parameters<typeof deviceOptions>[2]): Promise<number> {
  try {
    const client = await connect(clientId, issued);
    client.end(true);
  } catch (error) {
    return (error as { code: number }).code;
  }
  throw new Error('the broker accepted a connection it must refuse');
}

const streamRecords = () => readStream(kinesis.client, STREAM, shards);

function refusals(action: string): Record<string, unknown>[] {
  return parts.logs.filter((l) => l.message === 'refused' && l.action === action);
}

describe('a registered device', () => {
  it('publishes to its own topic; the PUBACK comes once the bytes are in the stream under mqtt:<thing>', async () => {
    const issued = parts.register('temp-0101');
    const client = await connect('temp-0101', issued);
    const reading = JSON.stringify(aReading({ sensor_id: 'temp-0101' }));
    const notJson = Buffer.from([0xff, 0x00, 0x7b]);
    await publish(client, deviceTopicFor('temp-0101'), reading);
    // The PUBACK has arrived: the record must already be readable.
    const afterAck = await streamRecords();
    expect(afterAck.filter((r) => r.partitionKey === 'mqtt:temp-0101').map((r) => r.data)).toEqual([reading]);
    await publish(client, deviceTopicFor('temp-0101'), notJson);
    const mine = (await streamRecords()).filter((r) => r.partitionKey === 'mqtt:temp-0101');
    expect(mine).toHaveLength(2);
    expect(Buffer.from(mine.find((r) => r.data !== reading)?.data ?? '')).toEqual(Buffer.from(notJson.toString()));
    client.end(true);
  });

  it('may subscribe to its own topic space', async () => {
    const issued = parts.register('temp-0102');
    const client = await connect('temp-0102', issued);
    const granted = await client.subscribeAsync('iot/sensors/temp-0102/#', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    client.end(true);
  });
});

describe('hostile devices are refused, logged, and land nothing', () => {
  it('no certificate: CONNACK 5', async () => {
    expect(await refusalCode('temp-0201')).toBe(5);
    expect(refusals('connect')[0]).toMatchObject({
      code: 5,
      reason: expect.stringMatching(/certificate not accepted/),
    });
  });

  it('a certificate from another authority: CONNACK 5', async () => {
    const other = doorParts();
    try {
      const foreign = other.register('temp-0202');
      expect(await refusalCode('temp-0202', foreign)).toBe(5);
      expect(refusals('connect')[0]?.reason).toMatch(/certificate not accepted/);
    } finally {
      other.cleanup();
    }
  });

  it('a revoked certificate: CONNACK 5, also for a device connected before the revocation that reconnects', async () => {
    const issued = parts.register('temp-0203');
    const first = await connect('temp-0203', issued);
    first.end(true);
    expect(parts.registry.revoke('temp-0203')).toBe(1);
    expect(await refusalCode('temp-0203', issued)).toBe(5);
    expect(refusals('connect')[0]).toMatchObject({ reason: 'certificate revoked', code: 5 });
  });

  it('a certificate of this CA that was never registered: CONNACK 5', async () => {
    const unregistered = parts.ca.issueDevice('temp-0204');
    expect(await refusalCode('temp-0204', unregistered)).toBe(5);
    expect(refusals('connect')[0]?.reason).toBe('certificate not registered');
  });

  it('a client id that is not its thing name: CONNACK 2', async () => {
    const issued = parts.register('temp-0205');
    parts.register('temp-0206');
    expect(await refusalCode('temp-0206', issued)).toBe(2);
    expect(refusals('connect')[0]).toMatchObject({ code: 2, clientId: 'temp-0206' });
  });

  it("a publish to another device's topic or outside the topic space: connection closed, no PUBACK", async () => {
    const issued = parts.register('temp-0207');
    for (const topic of [deviceTopicFor('temp-0208'), 'iot/other/temp-0207', 'iot/sensors/temp-0207/readings/x']) {
      const client = await connect('temp-0207', issued);
      await publishRefused(client, topic, JSON.stringify(aReading({ sensor_id: 'temp-0207' })));
    }
    expect(refusals('publish').map((l) => l.topic)).toEqual([
      'iot/sensors/temp-0208/readings',
      'iot/other/temp-0207',
      'iot/sensors/temp-0207/readings/x',
    ]);
    expect((await streamRecords()).filter((r) => r.data.includes('temp-0207'))).toEqual([]);
  });

  it("a subscribe to other devices' topics: SUBACK 0x80", async () => {
    const issued = parts.register('temp-0209');
    const client = await connect('temp-0209', issued);
    for (const filter of ['iot/sensors/temp-0210/readings', 'iot/sensors/+/readings', '#', 'iot/sensors/temp-02/#']) {
      // mqtt.js turns a SUBACK whose only grant is 0x80 into an error carrying the packet.
      const granted = await client.subscribeAsync(filter, { qos: 1 }).then(
        (grants) => grants.map((g) => g.qos),
        (error: { packet?: { granted?: number[] } }) => error.packet?.granted,
      );
      expect(granted, filter).toEqual([128]);
    }
    expect(refusals('subscribe')).toHaveLength(4);
    client.end(true);
  });

  it("a payload over IoT Core's 128 KiB: connection closed, nothing forwarded", async () => {
    const issued = parts.register('temp-0211');
    const client = await connect('temp-0211', issued);
    const big = JSON.stringify(aReading({ sensor_id: 'temp-0211', model: 'x'.repeat(128 * 1024) }));
    await publishRefused(client, deviceTopicFor('temp-0211'), big);
    expect(refusals('publish')[0]?.reason).toMatch(/exceeds 131072/);
    expect((await streamRecords()).filter((r) => r.partitionKey === 'mqtt:temp-0211')).toEqual([]);
  });

  it('a burst of connection attempts: CONNACK 3 once the burst allowance is spent', async () => {
    const issued = parts.register('temp-0212');
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) {
      try {
        const client = await connect('temp-0212', issued);
        codes.push(0);
        client.end(true);
      } catch (error) {
        codes.push((error as { code: number }).code);
      }
    }
    expect(codes.filter((c) => c === 0).length).toBeGreaterThanOrEqual(5);
    expect(codes).toContain(3);
    expect(refusals('connect').every((l) => l.code === 3 && l.reason === 'too many connection attempts')).toBe(true);
  });

  it('MQTT 5 is refused (aedes 1.2 speaks 3.1.1): CONNACK return code 1, so the door says so clearly', async () => {
    const issued = parts.register('temp-0213');
    try {
      const client = await connectDevice(
        door.endpoint,
        deviceOptions(parts, 'temp-0213', issued, { protocolVersion: 5 }),
      );
      client.end(true);
      throw new Error('accepted');
    } catch (error) {
      expect((error as Error).message).not.toBe('accepted');
    }
  });
});
