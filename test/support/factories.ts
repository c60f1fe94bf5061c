/**
 * Shared test factories: readings, stream positions and Lambda events shaped like AWS's.
 */

import { randomUUID } from 'node:crypto';
import type { Context, KinesisStreamEvent, SQSEvent } from 'aws-lambda';
import type { StreamPosition } from '#domain/stream.js';

export const STREAM_NAME = 'iot_sensor_data';
export const STREAM_ARN = `arn:aws:kinesis:us-east-1:000000000000:stream/${STREAM_NAME}`;

/** A valid reading as a sensor sends it; override any field (undefined removes it). */
export function aReading(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const reading: Record<string, unknown> = {
    reading_id: randomUUID(),
    sensor_id: 'temp-0001',
    sensor_type: 'temperature',
    value: 21.5,
    unit: '°C',
    manufacturer: 'Acme',
    model: 'T-100',
    min: -40,
    max: 85,
    status: 'active',
    timestamp: '2026-11-26T12:00:30Z',
    ...overrides,
  };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete reading[k];
  return reading;
}

export function encode(value: unknown): Uint8Array {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
}

let sequence = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000n;

/** Sequence numbers as Kinesis makes them: long decimal strings, increasing. */
export function nextSequenceNumber(): string {
  sequence += 1n;
  return sequence.toString();
}

export function aPosition(overrides: Partial<StreamPosition> = {}): StreamPosition {
  return {
    streamName: STREAM_NAME,
    shardId: 'shardId-000000000000',
    sequenceNumber: nextSequenceNumber(),
    partitionKey: 'temp-0001',
    arrivalTime: new Date('2026-11-26T12:00:31Z'),
    ...overrides,
  };
}

/** A KinesisStreamEvent holding `payloads` as consecutive records of one shard. */
export function kinesisEvent(
  payloads: readonly Uint8Array[],
  shardId = 'shardId-000000000000',
): { event: KinesisStreamEvent; sequenceNumbers: string[] } {
  const sequenceNumbers = payloads.map(() => nextSequenceNumber());
  return {
    sequenceNumbers,
    event: {
      Records: payloads.map((data, i) => ({
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${sequenceNumbers[i]}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/validator',
        awsRegion: 'us-east-1',
        eventSourceARN: STREAM_ARN,
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: 'temp-0001',
          sequenceNumber: sequenceNumbers[i] as string,
          data: Buffer.from(data).toString('base64'),
          approximateArrivalTimestamp: 1_795_000_000.123,
        },
      })),
    },
  };
}

export function sqsEvent(bodies: readonly string[]): SQSEvent {
  return {
    Records: bodies.map((body) => ({
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'AIDA000000000000',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:iot-sensor-errors',
      awsRegion: 'us-east-1',
    })),
  };
}

/**
 * The body of a Kinesis event source's on-failure notice for a sequence range of one shard, as
 * Lambda sends it to an SQS destination (the drainer's input).
 */
export function kinesisFailureNotice(range: {
  readonly shardId: string;
  readonly start: string;
  readonly end: string;
  readonly batchSize: number;
  readonly streamName?: string;
}): string {
  const at = new Date().toISOString();
  return JSON.stringify({
    requestContext: {
      requestId: randomUUID(),
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-validator',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 6,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: at,
    KinesisBatchInfo: {
      shardId: range.shardId,
      startSequenceNumber: range.start,
      endSequenceNumber: range.end,
      approximateArrivalOfFirstRecord: at,
      approximateArrivalOfLastRecord: at,
      batchSize: range.batchSize,
      streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${range.streamName ?? STREAM_NAME}`,
    },
  });
}

/** A Lambda context with the remaining time counting down from `timeoutMs`. */
export function lambdaContext(functionName = 'test-function', timeoutMs = 60_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
