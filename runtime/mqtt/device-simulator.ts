/**
 * The device simulator of `npm run devices -- simulate`: N devices, each a real mqtt.js client
 * over TLS with its own certificate, publish M readings in total at QoS 1 to their own topics,
 * using the producer's fleet and fault model (src/domain/fleet.ts), so the pipeline's rows can be
 * checked against `expected` exactly, as with the producer Lambda's answer.
 *
 * One fault only a device can make: naming another sensor (IDENTITY_MISMATCH). With
 * `mismatchRate` > 0 that share of the would-be valid readings carries the next device's
 * sensor_id instead of the sender's.
 *
 * A publish counts as sent when its PUBACK arrived, i.e. (with the local rule engine) when its
 * record is in the stream. Clients reconnect on their own; QoS 1 publishes not yet acknowledged
 * are resent after a reconnect, so a broker restart or a stream outage delays them, nothing more.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { countOutcomes, type ExpectedOutcome, type FaultRates, type SimulatedRecord, simulate } from '#domain/fleet.js';
import { deviceTopicFor } from '#topology.js';

export type SimulatedOutcome = ExpectedOutcome | 'IDENTITY_MISMATCH';
export type SimulatedCounts = Record<SimulatedOutcome, number>;

export interface DeviceCredentials {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface DeviceSimulationOptions {
  /** `mqtts://host:port` */
  readonly endpoint: string;
  /** PEM of the authority that signed the broker's certificate. */
  readonly caCertificatePem: string;
  readonly devices: number;
  readonly count: number;
  readonly seed: number;
  /** Messages per second over all devices; unlimited when absent. */
  readonly rate?: number | undefined;
  readonly mismatchRate?: number | undefined;
  readonly rates?: Partial<FaultRates> | undefined;
  readonly startTime?: Date | undefined;
  readonly intervalMs?: number | undefined;
  /** Give up on publishes not acknowledged by then (they count as failed). */
  readonly timeoutMs?: number | undefined;
  /** Certificate and key of a device, registering it first when needed. */
  credentialsFor(thingName: string): Promise<DeviceCredentials>;
  /** Called as each message is handed to its client, with performance.now(), for latency figures. */
  onPublish?: ((message: PlannedMessage, at: number) => void) | undefined;
  /** Called with each publish's PUBACK time (ms since its first send), for latency figures. */
  onAck?: ((record: PlannedMessage, ackedAt: number) => void) | undefined;
}

export interface PlannedMessage {
  readonly thingName: string;
  readonly topic: string;
  readonly payload: Buffer;
  readonly expected: SimulatedOutcome;
  readonly readingId: string;
}

export interface DeviceSimulationResult {
  readonly endpoint: string;
  readonly devices: number;
  readonly count: number;
  readonly seed: number;
  readonly sent: number;
  readonly failed: number;
  /** Outcomes the pipeline must produce for the acknowledged publishes. */
  readonly expected: SimulatedCounts;
  readonly notSent: SimulatedCounts;
  readonly durationMs: number;
  readonly messagesPerSecond: number;
}

/** A small seeded generator (mulberry32): the same seed picks the same mismatches. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function emptySimulatedCounts(): SimulatedCounts {
  return { ...countOutcomes([]), IDENTITY_MISMATCH: 0 };
}

function countSimulated(messages: readonly PlannedMessage[]): SimulatedCounts {
  const counts = emptySimulatedCounts();
  for (const m of messages) counts[m.expected]++;
  return counts;
}

/** The messages to publish: the producer's readings, each from the device it names. */
export function planMessages(
  options: Pick<
    DeviceSimulationOptions,
    'devices' | 'count' | 'seed' | 'mismatchRate' | 'rates' | 'startTime' | 'intervalMs'
  >,
): { readonly fleet: readonly string[]; readonly messages: readonly PlannedMessage[] } {
  const intervalMs = options.intervalMs ?? 2_000;
  const rounds = Math.max(1, Math.ceil(options.count / Math.max(1, Math.min(options.devices, options.count))));
  const simulation = simulate({
    count: options.count,
    sensors: options.devices,
    seed: options.seed,
    startTime: options.startTime ?? new Date(Date.now() - (rounds - 1) * intervalMs),
    intervalMs,
    rates: options.rates,
  });
  const fleet = simulation.fleet.map((s) => s.sensorId);
  const random = seededRandom(options.seed);
  const mismatchRate = options.mismatchRate ?? 0;
  const messages = simulation.records.map((record: SimulatedRecord, i): PlannedMessage => {
    const other = fleet[(fleet.indexOf(record.sensorId) + 1) % fleet.length] as string;
    const forge = record.expected === 'valid' && fleet.length > 1 && random() < mismatchRate;
    const payload = forge
      ? Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(record.data).toString()), sensor_id: other }))
      : Buffer.from(record.data);
    return {
      thingName: record.sensorId,
      topic: deviceTopicFor(record.sensorId),
      payload,
      expected: forge ? 'IDENTITY_MISMATCH' : record.expected,
      readingId: record.readingId || String(i),
    };
  });
  return { fleet, messages };
}

function connect(endpoint: string, thingName: string, ca: string, creds: DeviceCredentials): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(endpoint, {
      clientId: thingName,
      protocolVersion: 4,
      clean: false,
      ca,
      cert: creds.certificatePem,
      key: creds.privateKeyPem,
      reconnectPeriod: 500,
      connectTimeout: 30_000,
      keepalive: 30,
    });
    const onError = (error: Error) => {
      client.end(true);
      reject(new Error(`${thingName} could not connect: ${error.message}`));
    };
    client.once('error', onError);
    client.once('connect', () => {
      client.off('error', onError);
      client.on('error', () => undefined); // reconnects are the client's business from now on
      resolve(client);
    });
  });
}

/** Connects every device, a few at a time (each handshake signs with RSA). */
async function connectAll(
  options: DeviceSimulationOptions,
  fleet: readonly string[],
): Promise<Map<string, MqttClient>> {
  const clients = new Map<string, MqttClient>();
  // Identities first: issuing one makes an RSA key, which blocks the event loop (and a broker
  // in the same process) for a while; no handshake should wait behind that.
  const credentials = new Map<string, DeviceCredentials>();
  for (const thing of fleet) credentials.set(thing, await options.credentialsFor(thing));
  const queue = [...fleet];
  const worker = async () => {
    for (let thing = queue.shift(); thing !== undefined; thing = queue.shift()) {
      const creds = credentials.get(thing) as DeviceCredentials;
      clients.set(thing, await connect(options.endpoint, thing, options.caCertificatePem, creds));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(8, fleet.length) }, worker));
  } catch (error) {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
    throw error;
  }
  return clients;
}

export async function runDeviceSimulation(options: DeviceSimulationOptions): Promise<DeviceSimulationResult> {
  const { fleet, messages } = planMessages(options);
  const clients = await connectAll(options, fleet);
  const started = performance.now();
  const acked = new Set<PlannedMessage>();
  const pending: Promise<void>[] = [];
  const perMessageMs = options.rate ? 1000 / options.rate : 0;
  try {
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as PlannedMessage;
      const due = started + i * perMessageMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const client = clients.get(message.thingName) as MqttClient;
      const sentAt = performance.now();
      options.onPublish?.(message, sentAt);
      pending.push(
        new Promise<void>((resolve) =>
          client.publish(message.topic, message.payload, { qos: 1 }, (error) => {
            if (!error) {
              acked.add(message);
              options.onAck?.(message, performance.now() - sentAt);
            }
            resolve();
          }),
        ),
      );
    }
    await waitAll(pending, options.timeoutMs ?? 120_000);
  } finally {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
  }
  const durationMs = Math.round(performance.now() - started);
  const sent = messages.filter((m) => acked.has(m));
  const notSent = messages.filter((m) => !acked.has(m));
  return {
    endpoint: options.endpoint,
    devices: fleet.length,
    count: messages.length,
    seed: options.seed,
    sent: sent.length,
    failed: notSent.length,
    expected: countSimulated(sent),
    notSent: countSimulated(notSent),
    durationMs,
    messagesPerSecond: Math.round((sent.length / Math.max(1, durationMs)) * 1000),
  };
}

/** Waits for every publish's callback, or until the timeout; what is left counts as not sent. */
async function waitAll(pending: readonly Promise<void>[], timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(pending),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
