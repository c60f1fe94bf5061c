/**
 * Event payloads shaped exactly as AWS delivers them, so the handlers that deploy see no
 * difference between the embedded host and Lambda. Field names, types and formats follow the
 * events Lambda sends (and `@types/aws-lambda`); the account id is LocalStack's `000000000000`.
 */
import { randomUUID } from 'node:crypto';
import type { KinesisStreamEvent, KinesisStreamRecord, ScheduledEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import type { StreamRecord } from '#domain/stream.js';

const LOCAL_ACCOUNT = '000000000000';

export function streamArn(region: string, streamName: string): string {
  return `arn:aws:kinesis:${region}:${LOCAL_ACCOUNT}:stream/${streamName}`;
}

function queueArn(region: string, queueName: string): string {
  return `arn:aws:sqs:${region}:${LOCAL_ACCOUNT}:${queueName}`;
}

export function kinesisEvent(
  records: readonly StreamRecord[],
  options: { region: string; streamName: string; functionName: string },
): KinesisStreamEvent {
  const arn = streamArn(options.region, options.streamName);
  return {
    Records: records.map(
      (r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: Buffer.from(r.data).toString('base64'),
          approximateArrivalTimestamp: r.approximateArrivalMs / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${r.shardId}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${options.functionName}-role`,
        awsRegion: options.region,
        eventSourceARN: arn,
      }),
    ),
  };
}

/** A message as returned by SQS ReceiveMessage (SDK v3 shape, the fields the event needs). */
export interface ReceivedMessage {
  readonly MessageId?: string | undefined;
  readonly ReceiptHandle?: string | undefined;
  readonly Body?: string | undefined;
  readonly MD5OfBody?: string | undefined;
  readonly Attributes?: Partial<Record<string, string>> | undefined;
  readonly MessageAttributes?:
    | Record<
        string,
        { StringValue?: string | undefined; BinaryValue?: Uint8Array | undefined; DataType?: string | undefined }
      >
    | undefined;
}

export function sqsEvent(
  messages: readonly ReceivedMessage[],
  options: { region: string; queueName: string },
): SQSEvent {
  const arn = queueArn(options.region, options.queueName);
  return {
    Records: messages.map((m): SQSRecord => {
      const a = m.Attributes ?? {};
      const attributes: SQSRecord['attributes'] = {
        ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
        SentTimestamp: a.SentTimestamp ?? String(Date.now()),
        SenderId: a.SenderId ?? LOCAL_ACCOUNT,
        ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      };
      if (a.AWSTraceHeader) attributes.AWSTraceHeader = a.AWSTraceHeader;
      if (a.MessageGroupId) attributes.MessageGroupId = a.MessageGroupId;
      if (a.MessageDeduplicationId) attributes.MessageDeduplicationId = a.MessageDeduplicationId;
      if (a.SequenceNumber) attributes.SequenceNumber = a.SequenceNumber;
      const messageAttributes: SQSRecord['messageAttributes'] = {};
      for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
        messageAttributes[name] = {
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
          ...(value.BinaryValue !== undefined
            ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
            : {}),
          stringListValues: [],
          binaryListValues: [],
          dataType: (value.DataType ?? 'String') as SQSRecord['messageAttributes'][string]['dataType'],
        };
      }
      return {
        messageId: m.MessageId ?? randomUUID(),
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        attributes,
        messageAttributes,
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: arn,
        awsRegion: options.region,
      };
    }),
  };
}

/** EventBridge "Scheduled Event" for a rule; `time` has second precision, like EventBridge's. */
export function scheduledEvent(options: { region: string; ruleName: string; at?: Date }): ScheduledEvent {
  const at = options.at ?? new Date();
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: options.region,
    resources: [`arn:aws:events:${options.region}:${LOCAL_ACCOUNT}:rule/${options.ruleName}`],
    detail: {},
  };
}

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/**
 * The notice the Kinesis event source sends to its on-failure destination when it gives up on
 * records: it names the shard and sequence range, not the data (AWS's shape, version 1.0).
 */
export interface KinesisFailureNotice {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: FailureCondition;
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: '$LATEST';
    readonly functionError: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

/** Who gave up on a batch and why: the part of an on-failure record every event source shares. */
export interface FailedInvocation<Condition extends string = string> {
  readonly condition: Condition;
  readonly functionArn: string;
  readonly requestId: string;
  readonly invokeCount: number;
  readonly functionError: string;
}

/** The request, response and version fields of Lambda's on-failure record, for any event source. */
export function failureNoticeEnvelope<Condition extends string>(options: FailedInvocation<Condition>) {
  return {
    requestContext: {
      requestId: options.requestId,
      functionArn: options.functionArn,
      condition: options.condition,
      approximateInvokeCount: options.invokeCount,
    },
    responseContext: {
      // Lambda reports 200 for a handled invocation that returned failures, and for an unhandled error.
      statusCode: 200,
      executedVersion: '$LATEST' as const,
      functionError: options.functionError,
    },
    version: '1.0' as const,
    timestamp: new Date().toISOString(),
  };
}

export function kinesisFailureNotice(options: {
  readonly records: readonly StreamRecord[];
  readonly condition: FailureCondition;
  readonly functionArn: string;
  readonly requestId: string;
  readonly invokeCount: number;
  readonly functionError: string;
  readonly region: string;
  readonly streamName: string;
}): KinesisFailureNotice {
  const first = options.records[0];
  const last = options.records[options.records.length - 1];
  if (!first || !last) throw new Error('a failure notice needs at least one record');
  return {
    ...failureNoticeEnvelope(options),
    KinesisBatchInfo: {
      shardId: first.shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: new Date(first.approximateArrivalMs).toISOString(),
      approximateArrivalOfLastRecord: new Date(last.approximateArrivalMs).toISOString(),
      batchSize: options.records.length,
      streamArn: streamArn(options.region, options.streamName),
    },
  };
}
