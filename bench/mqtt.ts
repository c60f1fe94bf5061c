/**
 * The MQTT door's benchmark, through the embedded stack (runtime/stack.ts: kinesalite, the local
 * Lambda host with the real validator, this run's PostgreSQL) with the local broker and rule
 * engine (runtime/mqtt) in front of its stream, and 100 simulated devices, each a real mqtt.js
 * client over TLS with its own certificate (runtime/mqtt/device-simulator.ts).
 *
 * - Ingress throughput: `messages` readings published at QoS 1 as fast as the devices can, from
 *   the first publish to the last PUBACK (a PUBACK means the record is in the stream), divided by
 *   the baseline: the same payloads written into the same stream with direct PutRecords
 *   (src/adapters/kinesis/stream-writer.ts, 500 per call), measured in the same run, before and
 *   after the MQTT phase (their mean), since the machine is shared.
 * - Latency: `rate` readings/s for `seconds`; from the publish call to the row visible in
 *   sensor_readings (every 5th valid reading is watched, polled every 50 ms), and to its PUBACK.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { KinesisStreamWriter } from '#adapters/kinesis/stream-writer.js';
import { LocalDeviceDirectory } from '#runtime/mqtt/device-directory.js';
import { type DeviceCredentials, planMessages, runDeviceSimulation } from '#runtime/mqtt/device-simulator.js';
import { startMqttDoor } from '#runtime/mqtt/door.js';
import { type BenchServer, percentile, round, startBenchStack } from './common.js';
import { type Latency, until, VisibilityProbe } from './e2e.js';

export interface MqttBenchOptions {
  readonly devices: number;
  readonly messages: number;
  readonly rate: number;
  readonly seconds: number;
  readonly logDir: string;
  readonly log: (line: string) => void;
}

export interface MqttResult {
  readonly devices: number;
  readonly messages: number;
  readonly mqtt: { readonly messagesPerSecond: number; readonly failed: number; readonly putRecordsCalls: number };
  readonly direct: { readonly recordsPerSecond: number; readonly runs: readonly number[] };
  /** MQTT ingress ÷ direct PutRecords. */
  readonly ratio: number;
  readonly fixedLoad: {
    readonly offeredPerSecond: number;
    readonly messages: number;
    readonly publishToRowMs: Latency;
    readonly publishToAckMs: Latency;
  };
}

function latency(values: number[]): Latency {
  const sorted = values.sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export async function benchMqtt(server: BenchServer, options: MqttBenchOptions): Promise<MqttResult> {
  const { log } = options;
  const { stack, databaseUrl, stateDir } = await startBenchStack(server, 'mqtt', { logDir: options.logDir, log });
  const streamName = stack.endpoints.streamName;
  const door = await startMqttDoor({
    stateDir,
    kinesis: stack.kinesis,
    streamName,
    log: (entry) => appendFileSync(path.join(stateDir, 'host.log'), `${JSON.stringify(entry)}\n`),
  });
  const devices = new LocalDeviceDirectory(stateDir);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const probe = new VisibilityProbe(db);
  const credentials = new Map<string, DeviceCredentials>();
  const credentialsFor = async (thing: string): Promise<DeviceCredentials> => {
    const known = credentials.get(thing) ?? (await devices.register(thing));
    credentials.set(thing, known);
    return known;
  };
  const common = {
    endpoint: door.endpoint,
    caCertificatePem: devices.ca.caCertificatePem,
    devices: options.devices,
    credentialsFor,
  };
  try {
    const writer = new KinesisStreamWriter(stack.kinesis, streamName);
    let validSoFar = 0;
    const direct = async (seed: number): Promise<number> => {
      const { messages } = planMessages({ devices: options.devices, count: options.messages, seed });
      validSoFar += messages.filter((m) => m.expected === 'valid').length;
      const records = messages.map((m) => ({ partitionKey: `mqtt:${m.thingName}`, data: m.payload }));
      const t0 = performance.now();
      const out = await writer.write(records);
      if (out.failed.length > 0) throw new Error(`direct PutRecords: ${out.failed.length} records refused`);
      return round((records.length / (performance.now() - t0)) * 1000);
    };
    log(`mqtt: direct PutRecords baseline, ${options.messages} records`);
    const before = await direct(31);
    log(`mqtt: ${options.devices} devices publish ${options.messages} readings as fast as they can`);
    const callsBefore = door.engine.counters.putRecordsCalls;
    const burst = await runDeviceSimulation({ ...common, count: options.messages, seed: 32 });
    const after = await direct(33);
    const directPerSecond = round((before + after) / 2);
    validSoFar += burst.expected.valid;
    // Let the pipeline drain the burst first, so the latency phase starts from an idle stack.
    if ((await until(db, 'sensor_readings', validSoFar, 180_000)) === undefined)
      throw new Error('mqtt: the burst never all landed');
    probe.take();

    log(`mqtt: ${options.rate} readings/s for ${options.seconds} s, publish to row`);
    let watched = 0;
    const acks: number[] = [];
    const steady = await runDeviceSimulation({
      ...common,
      count: Math.round(options.rate * options.seconds),
      rate: options.rate,
      seed: 34,
      onPublish: (m, at) => {
        if (m.expected === 'valid' && watched++ % 5 === 0) probe.watch(m.readingId, at);
      },
      onAck: (_m, ms) => acks.push(ms),
    });
    validSoFar += steady.expected.valid;
    if ((await until(db, 'sensor_readings', validSoFar, 180_000)) === undefined)
      throw new Error('mqtt: the fixed-load readings never all landed');
    await probe.seenAll(30_000);
    const rows = probe.take();
    return {
      devices: options.devices,
      messages: options.messages,
      mqtt: {
        messagesPerSecond: burst.messagesPerSecond,
        failed: burst.failed,
        putRecordsCalls: door.engine.counters.putRecordsCalls - callsBefore,
      },
      direct: { recordsPerSecond: directPerSecond, runs: [before, after] },
      ratio: round(burst.messagesPerSecond / directPerSecond),
      fixedLoad: {
        offeredPerSecond: options.rate,
        messages: steady.count,
        publishToRowMs: rows,
        publishToAckMs: latency(acks),
      },
    };
  } finally {
    await probe.stop();
    await db.end();
    await door.close();
    await stack.stop();
  }
}
