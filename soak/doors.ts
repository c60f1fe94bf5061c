/**
 * The senders of a soak run, one per door, each with the producer's fault mix and its own seeds
 * (so no two records share an id), each writing to the ledger what it sent and what its door
 * acknowledged:
 * - the producer Lambda, invoked through the stack's Lambda API; the harness simulates the same
 *   plan (seed, start time, count) to know every record, and counts as acknowledged the records
 *   the producer's answer does not list as failed;
 * - devices over MQTT (TLS, their own certificates, QoS 1): acknowledged by the PUBACK, which
 *   the door sends only once the record is in the stream; unacknowledged publishes are resent by
 *   mqtt.js after a reconnect, as a real device does;
 * - a Kafka producer (kafkajs, acks from all replicas) into the topic the Kafka door consumes;
 * - hostile records (random bytes, oversized, deeply nested) put straight on the stream.
 */
import { randomBytes } from 'node:crypto';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import { type FaultRates, simulate } from '#domain/fleet.js';
import type { MockKafka } from '#runtime/kafka/mock-cluster.js';
import { LocalCertificateAuthority } from '#runtime/mqtt/certificate-authority.js';
import { localCaDir } from '#runtime/mqtt/device-directory.js';
import { DeviceRegistry } from '#runtime/mqtt/device-registry.js';
import { planMessages } from '#runtime/mqtt/device-simulator.js';
import type { Door, Ledger } from './ledger.js';

/** The producer's fault mix with every error type the simulator makes switched on. */
export const SOAK_FAULT_RATES: FaultRates = {
  INACTIVE_SENSOR: 0.2,
  BELOW_MIN: 0.04,
  ABOVE_MAX: 0.04,
  NULL_VALUE: 0.02,
  JSON_PARSE_ERROR: 0.02,
  SCHEMA_ERROR: 0.02,
};

const SENSORS = 40;
const DEVICES = 4;
const INTERVAL_MS = 1_000;
const DOOR_INDEX: Record<Door, number> = { producer: 1, mqtt: 2, kafka: 3, hostile: 4 };

/** A seed per door and batch: distinct for every batch of a run, reproducible from the run's seed. */
export function batchSeed(runSeed: number, door: Door, batch: number): number {
  return (runSeed * 7_919 + DOOR_INDEX[door] * 1_000_003 + batch) >>> 0;
}

/** The start time the producer itself would choose: the batch's last round stamped now. */
function startTimeEndingNow(count: number, sensors: number): string {
  const rounds = Math.max(1, Math.ceil(count / Math.max(1, Math.min(sensors, count))));
  return new Date(Date.now() - (rounds - 1) * INTERVAL_MS).toISOString();
}

interface ProducerAnswer {
  readonly failed: number;
  readonly failedRecords: readonly { readonly readingId: string }[];
}

export class ProducerDoor {
  private batch = 0;
  inFlight = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly runSeed: number,
    private readonly lambdaEndpoint: () => string,
  ) {}

  /** Invokes the producer for `count` readings; resolves when its answer is in (never rejects). */
  async send(count: number): Promise<void> {
    if (count <= 0) return;
    const seed = batchSeed(this.runSeed, 'producer', this.batch++);
    const startTime = startTimeEndingNow(count, SENSORS);
    const event = { count, sensors: SENSORS, seed, startTime, intervalMs: INTERVAL_MS, rates: SOAK_FAULT_RATES };
    const records = simulate({ ...event, startTime: new Date(startTime) }).records;
    const sentAt = Date.now();
    for (const r of records) this.ledger.sent(r.readingId, 'producer', r.expected, sentAt);
    this.inFlight++;
    try {
      const response = await fetch(`${this.lambdaEndpoint()}/2015-03-31/functions/iot-producer/invocations`, {
        method: 'POST',
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await response.text();
      if (!response.ok || response.headers.get('x-amz-function-error'))
        throw new Error(`producer invocation failed: ${response.status} ${text.slice(0, 200)}`);
      const answer = JSON.parse(text) as ProducerAnswer;
      // Failures beyond the listed ones cannot be told apart: then nothing of the batch counts as acknowledged.
      if (answer.failed > answer.failedRecords.length) throw new Error(`producer: ${answer.failed} records failed`);
      const failed = new Set(answer.failedRecords.map((f) => f.readingId));
      const now = Date.now();
      for (const r of records) if (!failed.has(r.readingId)) this.ledger.acked(r.readingId, now);
    } catch (error) {
      this.ledger.sendError(error);
    } finally {
      this.inFlight--;
    }
  }
}

export interface MqttDoorOptions {
  readonly stateDir: string;
  readonly endpoint: () => string;
  readonly ledger: Ledger;
  readonly runSeed: number;
}

/** Devices registered in the stack's local CA and registry (the state folder's mqtt/), before the stack starts. */
export class MqttDevices {
  private readonly clients = new Map<string, MqttClient>();
  private batch = 0;
  private readonly ca: LocalCertificateAuthority;

  constructor(private readonly options: MqttDoorOptions) {
    this.ca = LocalCertificateAuthority.open(localCaDir(options.stateDir));
  }

  /** Registers and connects the devices (the broker must be up). */
  async connect(): Promise<void> {
    const registry = new DeviceRegistry(localCaDir(this.options.stateDir));
    const fleet = planMessages({ devices: DEVICES, count: DEVICES, seed: 1 }).fleet;
    await Promise.all(
      fleet.map(async (thing) => {
        // A fresh identity per run start: the previous one's key is not kept.
        const issued = this.ca.issueDevice(thing);
        registry.revoke(thing);
        registry.add({
          thingName: thing,
          fingerprint256: issued.fingerprint256,
          serialNumber: issued.serialNumber,
          notAfter: issued.notAfter.toISOString(),
        });
        this.clients.set(thing, await this.connectOne(thing, issued));
      }),
    );
  }

  private connectOne(thing: string, creds: { certificatePem: string; privateKeyPem: string }): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(this.options.endpoint(), {
        clientId: thing,
        protocolVersion: 4,
        clean: false,
        ca: this.ca.caCertificatePem,
        cert: creds.certificatePem,
        key: creds.privateKeyPem,
        reconnectPeriod: 500,
        connectTimeout: 30_000,
        keepalive: 10,
      });
      const onError = (error: Error) => {
        client.end(true);
        reject(new Error(`${thing} could not connect: ${error.message}`));
      };
      client.once('error', onError);
      client.once('connect', () => {
        client.off('error', onError);
        client.on('error', () => undefined); // reconnecting is the client's business from here on
        resolve(client);
      });
    });
  }

  /** Publishes `count` readings at QoS 1; each is acknowledged in the ledger by its PUBACK. */
  send(count: number): void {
    if (count <= 0 || this.clients.size === 0) return;
    const seed = batchSeed(this.options.runSeed, 'mqtt', this.batch++);
    const { messages } = planMessages({
      devices: DEVICES,
      count,
      seed,
      rates: SOAK_FAULT_RATES,
      intervalMs: INTERVAL_MS,
    });
    const { ledger } = this.options;
    for (const m of messages) {
      const client = this.clients.get(m.thingName);
      if (!client) continue;
      ledger.sent(m.readingId, 'mqtt', m.expected);
      client.publish(m.topic, m.payload, { qos: 1 }, (error) => {
        if (error) ledger.sendError(error);
        else ledger.acked(m.readingId);
      });
    }
  }

  /** Publishes not yet acknowledged (mqtt.js keeps and resends them). */
  pending(): number {
    let n = 0;
    for (const c of this.clients.values())
      n += Object.keys((c as unknown as { outgoing?: object }).outgoing ?? {}).length;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

export class KafkaSender {
  private batch = 0;
  private admin: Admin | undefined;
  private producer: Awaited<ReturnType<MockKafka['producer']>> | undefined;

  constructor(
    private readonly kafka: MockKafka,
    private readonly ledger: Ledger,
    private readonly runSeed: number,
    private readonly topic: string,
  ) {}

  /** Records in the topic the door's consumer group has not committed yet; undefined when the broker cannot tell. */
  async lag(groupId: string): Promise<number | undefined> {
    try {
      if (!this.admin) {
        const admin = new Kafka({ brokers: this.kafka.bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        this.admin = admin;
      }
      const ends = await this.admin.fetchTopicOffsets(this.topic);
      const [committed] = await this.admin.fetchOffsets({ groupId, topics: [this.topic] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      return ends.reduce((sum, e) => sum + Number(e.high) - Math.max(0, at.get(e.partition) ?? 0), 0);
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
  }

  async send(count: number): Promise<void> {
    if (count <= 0) return;
    this.producer ??= await this.kafka.producer();
    const seed = batchSeed(this.runSeed, 'kafka', this.batch++);
    const startTime = startTimeEndingNow(count, SENSORS);
    const { records } = simulate({
      count,
      sensors: SENSORS,
      seed,
      startTime: new Date(startTime),
      intervalMs: INTERVAL_MS,
      rates: SOAK_FAULT_RATES,
    });
    for (const r of records) this.ledger.sent(r.readingId, 'kafka', r.expected);
    try {
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.partitionKey, value: Buffer.from(r.data) })),
      });
      const now = Date.now();
      for (const r of records) this.ledger.acked(r.readingId, now);
    } catch (error) {
      this.ledger.sendError(error);
    }
  }
}

/** Hostile records: every one starts with its id, so its error row names it whatever else it holds. */
export function hostileRecords(count: number, random: () => number): { id: string; data: Buffer }[] {
  const out: { id: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const id = crypto.randomUUID();
    const kind = Math.floor(random() * 3);
    let data: Buffer;
    if (kind === 0) data = Buffer.concat([Buffer.from(id), randomBytes(16 + Math.floor(random() * 2_000))]);
    else if (kind === 1) data = Buffer.from(JSON.stringify({ reading_id: id, pad: 'x'.repeat(200_000 + i) }));
    else {
      const depth = 20_000 + Math.floor(random() * 30_000);
      data = Buffer.from(`{"reading_id":"${id}","v":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    }
    out.push({ id, data });
  }
  return out;
}

/** Puts hostile records on the stream directly (a misbehaving producer); acknowledged by PutRecords. */
export async function sendHostile(
  kinesis: KinesisClient,
  streamName: string,
  ledger: Ledger,
  count: number,
  random: () => number,
): Promise<number> {
  const records = hostileRecords(count, random);
  for (const r of records) ledger.sent(r.id, 'hostile', 'HOSTILE');
  try {
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: records.map((r) => ({ PartitionKey: `hostile-${r.id.slice(0, 8)}`, Data: r.data })),
      }),
    );
    const now = Date.now();
    (out.Records ?? []).forEach((entry, i) => {
      const record = records[i];
      if (record && !entry.ErrorCode) ledger.acked(record.id, now);
    });
  } catch (error) {
    ledger.sendError(error);
  }
  return records.length;
}
