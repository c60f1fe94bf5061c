import type { KinesisStreamEvent } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { type DeviceSimulationResult, runDeviceSimulation } from '#runtime/mqtt/device-simulator.js';
import type { RunningMqttDoor } from '#runtime/mqtt/door.js';
import type { RunningKinesis, RunningSqs } from '../support/emulators.js';
import { lambdaContext, sqsEvent } from '../support/factories.js';
import { freePort } from '../support/free-port.js';
import { type IngestHandlers, startIngestHandlers } from '../support/ingest-handlers.js';
import {
  type DoorOptions,
  type DoorParts,
  doorParts,
  outageProxy,
  readStream,
  startDoor,
  waitFor,
} from '../support/mqtt-door.js';

let handlers: IngestHandlers;
let kinesis: RunningKinesis;
let sqs: RunningSqs;
let errorsQueue: string;
let failuresQueue: string;
let db: pg.Pool;
let parts: DoorParts;
let validator: IngestHandlers['validator'];
let drainer: IngestHandlers['drainer'];
let streamCounter = 0;

beforeAll(async () => {
  handlers = await startIngestHandlers({ database: 'mqtt_e2e', kinesis: true });
  ({ sqs, db, errorsQueueUrl: errorsQueue, validator, drainer } = handlers);
  kinesis = handlers.kinesis as RunningKinesis;
  failuresQueue = await sqs.createQueue('iot-ingest-failures');
  parts = doorParts();
});

afterAll(async () => {
  await handlers?.stop();
  parts?.cleanup();
});

beforeEach(async () => {
  await db.query('TRUNCATE sensor_readings, sensor_errors, aggregation_dirty_windows');
});

/** A stream of its own per test, so a test reads only its records. */
async function newStream(): Promise<{ name: string; shards: string[] }> {
  const name = `mqtt_e2e_${++streamCounter}`;
  return { name, shards: await kinesis.createStream(name, 2) };
}

/** Credentials for simulated devices: registered once in this file's CA, reused after. */
const issued = new Map<string, { certificatePem: string; privateKeyPem: string }>();
async function credentialsFor(thing: string) {
  let creds = issued.get(thing);
  if (!creds) {
    creds = parts.register(thing);
    issued.set(thing, creds);
  }
  return creds;
}

function simulate(door: RunningMqttDoor, options: Partial<Parameters<typeof runDeviceSimulation>[0]> = {}) {
  return runDeviceSimulation({
    endpoint: door.endpoint,
    caCertificatePem: parts.ca.caCertificatePem,
    devices: 6,
    count: 120,
    seed: 7,
    credentialsFor,
    ...options,
  });
}

/**
 * Lands everything the door wrote: the stream's records through the real validator (as the
 * event source would deliver them, per shard), then both queues through the real drainer.
 */
async function landAll(stream: { name: string; shards: string[] }): Promise<void> {
  const records = await readStreamWithShards(stream);
  for (const [shardId, shardRecords] of records) {
    for (let i = 0; i < shardRecords.length; i += 500) {
      const event: KinesisStreamEvent = {
        Records: shardRecords.slice(i, i + 500).map((r) => ({
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `${shardId}:${r.sequenceNumber}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: 'arn:aws:iam::000000000000:role/validator',
          awsRegion: 'us-east-1',
          eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream.name}`,
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: r.partitionKey,
            sequenceNumber: r.sequenceNumber,
            data: Buffer.from(r.data, 'binary').toString('base64'),
            approximateArrivalTimestamp: Date.now() / 1000,
          },
        })),
      };
      expect((await validator(event, lambdaContext('validator'))).batchItemFailures).toEqual([]);
    }
  }
  for (const queue of [errorsQueue, failuresQueue]) {
    const bodies = (await sqs.takeAll(queue)).map((m) => m.body);
    for (let i = 0; i < bodies.length; i += 10)
      expect((await drainer(sqsEvent(bodies.slice(i, i + 10)), lambdaContext('drainer'))).batchItemFailures).toEqual(
        [],
      );
  }
}

/** The stream's records per shard, data kept as raw bytes (latin1 string) so invalid UTF-8 survives. */
async function readStreamWithShards(stream: { name: string; shards: string[] }) {
  const byShard = new Map<string, { partitionKey: string; data: string; sequenceNumber: string }[]>();
  for (const shard of stream.shards) {
    const { GetShardIteratorCommand, GetRecordsCommand } = await import('@aws-sdk/client-kinesis');
    let iterator = (
      await kinesis.client.send(
        new GetShardIteratorCommand({ StreamName: stream.name, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }),
      )
    ).ShardIterator;
    const list: { partitionKey: string; data: string; sequenceNumber: string }[] = [];
    while (iterator) {
      const out = await kinesis.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of out.Records ?? [])
        list.push({
          partitionKey: r.PartitionKey as string,
          data: Buffer.from(r.Data as Uint8Array).toString('binary'),
          sequenceNumber: r.SequenceNumber as string,
        });
      iterator = (out.Records ?? []).length === 0 ? undefined : out.NextShardIterator;
    }
    byShard.set(shard, list);
  }
  return byShard;
}

/** What landed, in the simulator's terms: valid readings and each error type. */
async function landedCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {
    valid: Number((await db.query('SELECT count(*) AS n FROM sensor_readings')).rows[0].n),
  };
  for (const row of (await db.query('SELECT error_type, count(*) AS n FROM sensor_errors GROUP BY 1')).rows)
    counts[row.error_type] = Number(row.n);
  return counts;
}

function nonZero(expected: DeviceSimulationResult['expected']): Record<string, number> {
  return Object.fromEntries(Object.entries(expected).filter(([, n]) => n > 0));
}

async function withDoor<T>(
  options: Omit<DoorOptions, 'kinesis'> & { kinesis?: DoorOptions['kinesis'] },
  run: (door: RunningMqttDoor) => Promise<T>,
) {
  const door = await startDoor(parts, { kinesis: kinesis.client, ...options });
  try {
    return await run(door);
  } finally {
    await door.close();
  }
}

describe('MQTT door end to end', () => {
  it('lands exactly what the simulated devices sent: readings under their identity, every error with its type', async () => {
    const stream = await newStream();
    const result = await withDoor({ streamName: stream.name }, (door) =>
      simulate(door, { mismatchRate: 0.15, rates: { JSON_PARSE_ERROR: 0.05, SCHEMA_ERROR: 0.05 } }),
    );
    expect(result.failed).toBe(0);
    expect(result.sent).toBe(120);
    expect(result.expected.IDENTITY_MISMATCH).toBeGreaterThan(0);
    expect(result.expected.JSON_PARSE_ERROR).toBeGreaterThan(0);
    await landAll(stream);
    expect(await landedCounts()).toEqual(nonZero(result.expected));

    // The identity is recorded with every row: the partition key names the sending device.
    const foreign = await db.query(
      "SELECT count(*) AS n FROM sensor_readings WHERE partition_key <> 'mqtt:' || sensor_id",
    );
    expect(Number(foreign.rows[0].n)).toBe(0);
    const mismatches = await db.query(
      "SELECT sensor_id, partition_key, error_message, raw_value::jsonb->>'sensor_id' AS claimed FROM sensor_errors WHERE error_type = 'IDENTITY_MISMATCH'",
    );
    for (const row of mismatches.rows) {
      expect(row.partition_key).toBe(`mqtt:${row.sensor_id}`);
      expect(row.claimed).not.toBe(row.sensor_id);
      expect(row.error_message).toContain(JSON.stringify(row.claimed));
    }
  });

  it('the broker restarted with QoS 1 publishes in flight: every reading lands exactly once', async () => {
    const stream = await newStream();
    const port = await freePort();
    let door = await startDoor(parts, { kinesis: kinesis.client, streamName: stream.name, port });
    let acked = 0;
    const running = simulate(door, { count: 400, rate: 200, seed: 11, onAck: () => acked++ });
    await waitFor(() => acked >= 100, 30_000, '100 acknowledged publishes');
    await door.close(); // publishes in flight lose their connection before their PUBACK
    const ackedBeforeRestart = acked;
    door = await startDoor(parts, { kinesis: kinesis.client, streamName: stream.name, port });
    try {
      const result = await running;
      expect(ackedBeforeRestart).toBeLessThan(400);
      expect(result.failed).toBe(0);
      await landAll(stream);
      expect(await landedCounts()).toEqual(nonZero(result.expected));
      const dupes = await db.query('SELECT count(*) - count(DISTINCT reading_id) AS n FROM sensor_readings');
      expect(Number(dupes.rows[0].n)).toBe(0);
    } finally {
      await door.close();
    }
  });

  it('the stream unavailable for a few seconds: publishes wait unacknowledged, devices resend, nothing lost', async () => {
    const stream = await newStream();
    const proxy = await outageProxy(kinesis.endpoint);
    const viaProxy = createKinesisClient({ region: 'us-east-1', endpoint: proxy.endpoint });
    try {
      await withDoor({ kinesis: viaProxy, streamName: stream.name, holdMs: 1_000 }, async (door) => {
        let acked = 0;
        const running = simulate(door, { count: 300, rate: 100, seed: 12, onAck: () => acked++ });
        await waitFor(() => acked >= 50, 30_000, '50 acknowledged publishes');
        await proxy.cut();
        const ackedAtCut = acked;
        await waitFor(
          () => parts.logs.some((l) => l.message === 'forward refused; the device will resend'),
          30_000,
          'a refused forward',
        );
        // While the stream is down nothing more is acknowledged (a few may have been in the stream already).
        const ackedDuringOutage = acked;
        await proxy.restore();
        const result = await running;
        expect(ackedDuringOutage - ackedAtCut).toBeLessThan(20);
        expect(result.failed).toBe(0);
        await landAll(stream);
        expect(await landedCounts()).toEqual(nonZero(result.expected));
      });
    } finally {
      viaProxy.destroy();
      await proxy.close();
    }
  });

  it("the stream down past the hold: the rule's error destination takes the messages and the drainer lands them", async () => {
    const stream = await newStream();
    const proxy = await outageProxy(kinesis.endpoint);
    const viaProxy = createKinesisClient({ region: 'us-east-1', endpoint: proxy.endpoint });
    try {
      await proxy.cut();
      const result = await withDoor(
        {
          kinesis: viaProxy,
          streamName: stream.name,
          holdMs: 300,
          errorQueue: { sqs: sqs.client, queueUrl: failuresQueue },
        },
        (door) => simulate(door, { count: 30, seed: 13 }),
      );
      expect(result.failed).toBe(0);
      expect(await readStream(kinesis.client, stream.name, stream.shards)).toEqual([]);
      await landAll(stream);
      expect(await landedCounts()).toEqual(nonZero(result.expected));
      const shards = await db.query('SELECT DISTINCT shard_id FROM sensor_readings');
      expect(shards.rows).toEqual([{ shard_id: 'topic-rule-error' }]);
    } finally {
      viaProxy.destroy();
      await proxy.close();
    }
  });
});
