/**
 * The MQTT door's parts for tests, each real: a local CA and registry in a temp folder, the
 * aedes broker on TLS on a free port, the rule engine writing into kinesalite, and mqtt.js
 * clients that present their own certificates.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type IssuedCertificate, LocalCertificateAuthority } from '#runtime/mqtt/certificate-authority.js';
import { localCaDir } from '#runtime/mqtt/device-directory.js';
import { DeviceRegistry } from '#runtime/mqtt/device-registry.js';
import { type MqttDoorOptions, type RunningMqttDoor, startMqttDoor } from '#runtime/mqtt/door.js';

export interface DoorParts {
  /** The state folder; the CA and registry are in its mqtt/ folder, as with `npm start`. */
  readonly stateDir: string;
  readonly ca: LocalCertificateAuthority;
  readonly registry: DeviceRegistry;
  readonly logs: Record<string, unknown>[];
  register(thingName: string): IssuedCertificate;
  cleanup(): void;
}

/** A CA and registry in `stateDir` (default: a fresh temp folder, removed by cleanup()). */
export function doorParts(stateDir?: string): DoorParts {
  const dir = stateDir ?? mkdtempSync(path.join(tmpdir(), 'iot-mqtt-'));
  const ca = LocalCertificateAuthority.open(localCaDir(dir));
  const registry = new DeviceRegistry(localCaDir(dir));
  return {
    stateDir: dir,
    ca,
    registry,
    logs: [],
    register(thingName) {
      const issued = ca.issueDevice(thingName);
      registry.add({
        thingName,
        fingerprint256: issued.fingerprint256,
        serialNumber: issued.serialNumber,
        notAfter: issued.notAfter.toISOString(),
      });
      return issued;
    },
    cleanup: () => {
      if (!stateDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface DoorOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly port?: number;
  readonly holdMs?: number;
  readonly errorQueue?: MqttDoorOptions['errorQueue'];
}

/** The door as the stack starts it (runtime/mqtt/door.ts), logging into `parts.logs`. */
export function startDoor(parts: DoorParts, options: DoorOptions): Promise<RunningMqttDoor> {
  return startMqttDoor({ stateDir: parts.stateDir, ...options, log: (entry) => parts.logs.push(entry) });
}

/** Client options for a device presenting `issued` (or nothing), trusting the local CA. */
export function deviceOptions(
  parts: DoorParts,
  clientId: string,
  issued?: Pick<IssuedCertificate, 'certificatePem' | 'privateKeyPem'>,
  extra: IClientOptions = {},
): IClientOptions {
  return {
    clientId,
    protocolVersion: 4,
    ca: parts.ca.caCertificatePem,
    ...(issued ? { cert: issued.certificatePem, key: issued.privateKeyPem } : {}),
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...extra,
  };
}

/** Connects and resolves with the client, or rejects with the broker's refusal. */
export function connectDevice(endpoint: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(endpoint, options);
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

/** Every record of the stream's shards, from the start. */
export async function readStream(
  kinesis: KinesisClient,
  streamName: string,
  shardIds: readonly string[],
): Promise<{ partitionKey: string; data: string; sequenceNumber: string }[]> {
  const all: { partitionKey: string; data: string; sequenceNumber: string }[] = [];
  for (const ShardId of shardIds) {
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({ StreamName: streamName, ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    while (iterator) {
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of out.Records ?? [])
        all.push({
          partitionKey: r.PartitionKey as string,
          data: Buffer.from(r.Data as Uint8Array).toString(),
          sequenceNumber: r.SequenceNumber as string,
        });
      iterator = (out.Records ?? []).length === 0 ? undefined : out.NextShardIterator;
    }
  }
  return all;
}

/** Waits until `check` returns true, polling; never a fixed sleep. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A TCP proxy in front of an emulator, to make it unavailable for a while: `cut()` closes the
 * listener and every connection (clients then see ECONNREFUSED, as with a stream endpoint that
 * is down), `restore()` listens again on the same port.
 */
export interface OutageProxy {
  readonly endpoint: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function outageProxy(targetEndpoint: string): Promise<OutageProxy> {
  const target = new URL(targetEndpoint);
  const sockets = new Set<import('node:net').Socket>();
  const { createServer, connect } = await import('node:net');
  const make = () =>
    createServer((socket) => {
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(socket);
      sockets.add(upstream);
      socket.pipe(upstream).pipe(socket);
      const drop = () => {
        socket.destroy();
        upstream.destroy();
        sockets.delete(socket);
        sockets.delete(upstream);
      };
      socket.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
  const listen = (server: import('node:net').Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as import('node:net').AddressInfo).port));
    });
  let server = make();
  const port = await listen(server, 0);
  const stop = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    sockets.clear();
    await closed;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut: stop,
    restore: async () => {
      server = make();
      await listen(server, port);
    },
    close: stop,
  };
}
