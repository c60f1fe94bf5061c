/**
 * Pure parts of the embedded Lambda host: reading partial batch responses as Lambda does, the
 * checkpoint rule under parallel completion, partition-key lanes, AWS event shapes, FunctionName
 * forms, and the `npm start` options.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, parseStartOptions, producerEvent, UsageError } from '#runtime/cli-options.js';
import { readBatchResponse } from '#runtime/host/batch-response.js';
import { kinesisEvent, kinesisFailureNotice, scheduledEvent, sqsEvent } from '#runtime/host/events.js';
import { functionNameFrom } from '#runtime/host/invoke-server.js';
import { batchLength, laneFor, MAX_EVENT_BYTES } from '#runtime/host/kinesis-policy.js';
import { ShardTracker } from '#runtime/host/shard-tracker.js';
import { readRunningEndpoints, resolveStateDir, STATE_DIR_ENV } from '#runtime/state-dir.js';
import { renderLine, renderPanel, snapshot } from '#runtime/status.js';
import { PROJECT_ROOT } from '../support/runtime-stack.js';

describe('readBatchResponse', () => {
  const ids = ['a', 'b', 'c'];
  it('treats absent, null, empty and non-object responses as success', () => {
    for (const p of [undefined, null, 'ok', 3, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      expect(readBatchResponse(p, ids)).toEqual({ kind: 'success' });
    }
  });
  it('returns the failed indexes in batch order', () => {
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: 'c' }, { itemIdentifier: 'b' }] }, ids)).toEqual({
      kind: 'partial',
      failed: [1, 2],
    });
  });
  it('fails the whole batch for an empty, null or unknown identifier, as Lambda does', () => {
    for (const item of [{ itemIdentifier: '' }, { itemIdentifier: null }, { itemIdentifier: 'zzz' }, { wrong: 'a' }]) {
      expect(readBatchResponse({ batchItemFailures: [item] }, ids).kind).toBe('invalid');
    }
    expect(readBatchResponse({ batchItemFailures: 'a' }, ids).kind).toBe('invalid');
  });
});

describe('ShardTracker', () => {
  it('advances the checkpoint only over a fully acknowledged prefix', () => {
    const t = new ShardTracker();
    for (const s of ['1', '2', '3', '4', '5']) t.add(s);
    expect(t.acknowledge(['2', '4'])).toBeUndefined(); // 1 still in flight: nothing may be passed
    expect(t.acknowledge(['1'])).toBe('2');
    expect(t.acknowledge(['3'])).toBe('4');
    expect(t.outstanding).toBe(1);
    expect(t.acknowledge(['5'])).toBe('5');
    expect(t.acknowledge(['5'])).toBeUndefined();
  });
});

describe('laneFor', () => {
  it('is stable per partition key and spreads keys over the lanes', () => {
    expect(laneFor('sensor-1', 4)).toBe(laneFor('sensor-1', 4));
    const lanes = new Set(Array.from({ length: 100 }, (_, i) => laneFor(`sensor-${i}`, 4)));
    expect(lanes).toEqual(new Set([0, 1, 2, 3]));
    expect(laneFor('x', 1)).toBe(0);
  });
});

describe('batchLength', () => {
  it('cuts at the batch size, and earlier when the event would pass 6 MB', () => {
    const small = Array.from({ length: 20 }, () => ({ data: new Uint8Array(100) }));
    expect(batchLength(small, 10)).toBe(10);
    expect(batchLength(small.slice(0, 3), 10)).toBe(3);
    const big = Array.from({ length: 20 }, () => ({ data: new Uint8Array(1024 * 1024) })); // 1 MiB: Kinesis's record limit
    const n = batchLength(big, 500);
    expect(n).toBe(4); // 4 x 1.33 MiB of base64 fit in 6 MiB, 5 do not
    expect(n * Math.ceil((1024 * 1024) / 3) * 4).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(batchLength([{ data: new Uint8Array(7 * 1024 * 1024) }], 500)).toBe(1);
  });
});

describe('AWS event shapes', () => {
  it('builds a KinesisStreamEvent record as Lambda does', () => {
    const e = kinesisEvent(
      [
        {
          shardId: 'shardId-000000000001',
          sequenceNumber: '495',
          partitionKey: 'k',
          data: Buffer.from('{"a":1}'),
          approximateArrivalMs: 1_700_000_000_123,
        },
      ],
      {
        region: 'eu-west-1',
        streamName: 's',
        functionName: 'f',
      },
    );
    expect(e.Records[0]).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'k',
        sequenceNumber: '495',
        data: Buffer.from('{"a":1}').toString('base64'),
        approximateArrivalTimestamp: 1_700_000_000.123,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: 'shardId-000000000001:495',
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/f-role',
      awsRegion: 'eu-west-1',
      eventSourceARN: 'arn:aws:kinesis:eu-west-1:000000000000:stream/s',
    });
  });
  it('builds SQS records with the receive count and message attributes', () => {
    const e = sqsEvent(
      [
        {
          MessageId: 'm',
          ReceiptHandle: 'r',
          Body: 'b',
          MD5OfBody: 'x',
          Attributes: { ApproximateReceiveCount: '3', SentTimestamp: '1' },
          MessageAttributes: { t: { StringValue: 'v', DataType: 'String' } },
        },
      ],
      {
        region: 'us-east-1',
        queueName: 'q',
      },
    );
    expect(e.Records[0]).toMatchObject({
      messageId: 'm',
      receiptHandle: 'r',
      body: 'b',
      attributes: { ApproximateReceiveCount: '3', SentTimestamp: '1' },
      messageAttributes: { t: { stringValue: 'v', dataType: 'String', stringListValues: [], binaryListValues: [] } },
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
    });
  });
  it('builds a scheduled event with second precision and a failure notice with the batch range', () => {
    const s = scheduledEvent({ region: 'us-east-1', ruleName: 'r', at: new Date('2026-01-02T03:04:05.678Z') });
    expect(s).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-01-02T03:04:05Z',
      detail: {},
      resources: ['arn:aws:events:us-east-1:000000000000:rule/r'],
    });
    const records = [
      { shardId: 'sh', sequenceNumber: '1', partitionKey: 'k', data: new Uint8Array(), approximateArrivalMs: 0 },
      { shardId: 'sh', sequenceNumber: '9', partitionKey: 'k', data: new Uint8Array(), approximateArrivalMs: 1000 },
    ];
    const n = kinesisFailureNotice({
      records,
      condition: 'RecordAgeExceeded',
      functionArn: 'arn',
      requestId: 'r',
      invokeCount: 2,
      functionError: 'Unhandled',
      region: 'us-east-1',
      streamName: 's',
    });
    expect(n.KinesisBatchInfo).toEqual({
      shardId: 'sh',
      startSequenceNumber: '1',
      endSequenceNumber: '9',
      approximateArrivalOfFirstRecord: '1970-01-01T00:00:00.000Z',
      approximateArrivalOfLastRecord: '1970-01-01T00:00:01.000Z',
      batchSize: 2,
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
    });
  });
});

describe('functionNameFrom', () => {
  it('accepts a name, a full ARN, a partial ARN and a qualifier', () => {
    expect(functionNameFrom('iot-producer')).toBe('iot-producer');
    expect(functionNameFrom(encodeURIComponent('arn:aws:lambda:us-east-1:000000000000:function:iot-producer'))).toBe(
      'iot-producer',
    );
    expect(functionNameFrom('000000000000:function:iot-producer:$LATEST')).toBe('iot-producer');
    expect(functionNameFrom('iot-producer:live')).toBe('iot-producer');
  });
});

/** The default of each `--<name>-port` flag as runtime/README.md's options table states it. */
function documentedPorts(): Record<string, number> {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'runtime/README.md'), 'utf8');
  const out: Record<string, number> = {};
  for (const m of readme.matchAll(/^\| `--(pg|kinesis|sqs|lambda|mqtt|api)-port <n>`\s*\|\s*(\d+)\s*\|/gm))
    out[m[1] === 'pg' ? 'postgres' : (m[1] as string)] = Number(m[2]);
  return out;
}

describe('npm start options', () => {
  it('uses the default ports runtime/README.md documents, for every server', () => {
    const documented = documentedPorts();
    expect(Object.keys(documented).sort()).toEqual(['api', 'kinesis', 'lambda', 'mqtt', 'postgres', 'sqs']);
    expect(parseStartOptions([]).ports).toEqual(documented);
  });
  it('has documented defaults', () => {
    expect(parseStartOptions([])).toMatchObject({
      producer: true,
      rate: 50,
      sensors: 50,
      seed: undefined,
      fresh: false,
      quiet: false,
      scheduleSpeedUp: 1,
      ports: DEFAULT_PORTS,
    });
  });
  it('parses every flag', () => {
    const o = parseStartOptions([
      '--no-producer',
      '--rate',
      '200',
      '--sensors',
      '10',
      '--seed',
      '5',
      '--fresh',
      '--quiet',
      '--schedule-speedup',
      '6',
      '--lambda-port',
      '0',
      '--pg-port',
      '6000',
      '--kinesis-port',
      '6001',
      '--sqs-port',
      '6002',
      '--state-dir',
      '/tmp/elsewhere',
    ]);
    expect(o).toMatchObject({
      producer: false,
      rate: 200,
      sensors: 10,
      seed: 5,
      fresh: true,
      quiet: true,
      scheduleSpeedUp: 6,
      ports: { lambda: 0, postgres: 6000, kinesis: 6001, sqs: 6002 },
      stateDir: '/tmp/elsewhere',
    });
  });
  it('rejects bad values with a message naming the flag', () => {
    expect(() => parseStartOptions(['--rate', 'fast'])).toThrow(UsageError);
    expect(() => parseStartOptions(['--rate', 'fast'])).toThrow(/--rate/);
    expect(() => parseStartOptions(['--bogus'])).toThrow(UsageError);
  });
  it('paces the producer: rate * 2 readings per 2 s batch, a new seed per batch', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(producerEvent({ rate: 50, sensors: 50, seed: 7 }, 0, now)).toEqual({
      count: 100,
      sensors: 50,
      seed: 7,
      startTime: now.toISOString(),
      intervalMs: 1000,
    });
    expect(producerEvent({ rate: 50, sensors: 50, seed: 7 }, 3, now).seed).toBe(10);
    expect(producerEvent({ rate: 50, sensors: 50, seed: undefined }, 3, now)).not.toHaveProperty('seed');
  });
});

describe('status rendering', () => {
  it('computes rates between samples and renders a panel and a line', () => {
    const host = {
      shards: [{ shardId: 'shardId-000000000000', millisBehindLatest: 1200, outstanding: 30, checkpoint: '1' }],
      sources: {
        kinesis: {
          received: 1000,
          acknowledged: 990,
          invocations: 5,
          failedInvocations: 0,
          noticesSent: 0,
          recordsGivenUp: 0,
        },
      },
      functions: { validator: { invocations: 5, errors: 0, timeouts: 0, coldStarts: 1, containers: 1 } },
      lastScheduleRuns: {},
    };
    const totals = { readings: 700, errors: { BELOW_MIN: 20, NULL_VALUE: 80 }, windows: 12 };
    const { snapshot: s } = snapshot({
      now: 12_000,
      startedAt: 0,
      host,
      totals,
      queues: { errors: 3 },
      produced: 1000,
      previous: { at: 10_000, received: 800, landed: 600 },
    });
    expect(s.inPerSecond).toBe(100);
    expect(s.outPerSecond).toBe(100);
    const panel = renderPanel(s).join('\n');
    expect(panel).toContain('readings     700');
    expect(panel).toContain('BELOW_MIN 20');
    expect(panel).toContain('#000000000000 lag 1,200ms, 30 pending');
    expect(panel).toContain('aggregator   not run yet');
    expect(renderLine(s)).toMatch(
      /in 100\/s out 100\/s lag 1,200ms queued 3 readings 700 errors 100 windows 12 aggregator none$/,
    );
  });
});

describe('state folder of the commands', () => {
  it('takes the flag, else IOT_FIRST_STATE_DIR, else .iot-first in the project, as an absolute path', () => {
    expect(resolveStateDir('/a', { [STATE_DIR_ENV]: '/b' })).toBe('/a');
    expect(resolveStateDir(undefined, { [STATE_DIR_ENV]: '/b' })).toBe('/b');
    expect(resolveStateDir(undefined, {})).toBe(path.join(PROJECT_ROOT, '.iot-first'));
    expect(resolveStateDir('rel', {})).toBe(path.resolve('rel'));
  });
  it('names the missing endpoints file when no stack runs there', () => {
    expect(() => readRunningEndpoints('/nonexistent-state')).toThrow('/nonexistent-state/endpoints.json is missing');
  });
});

describe('npm start --listen-all', () => {
  it('is off unless given', () => {
    expect(parseStartOptions([]).listenAll).toBe(false);
    expect(parseStartOptions(['--listen-all']).listenAll).toBe(true);
  });
});
