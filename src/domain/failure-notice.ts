/**
 * The notice a Lambda Kinesis event source sends to its on-failure destination when a batch
 * exhausts its retries or its records grow too old. It names a shard and a sequence-number
 * range, not the records themselves (AWS: "Retaining records of discarded batches").
 */
import { z } from 'zod';

const failureNoticeSchema = z.object({
  requestContext: z
    .object({
      requestId: z.string().optional(),
      condition: z.string().optional(),
      approximateInvokeCount: z.number().optional(),
    })
    .optional(),
  timestamp: z.string().optional(),
  KinesisBatchInfo: z.object({
    shardId: z.string().min(1),
    startSequenceNumber: z.string().regex(/^\d+$/),
    endSequenceNumber: z.string().regex(/^\d+$/),
    approximateArrivalOfFirstRecord: z.string().optional(),
    approximateArrivalOfLastRecord: z.string().optional(),
    batchSize: z.number().int().nonnegative(),
    streamArn: z.string().regex(/^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/.+$/, 'must be a Kinesis stream ARN'),
  }),
});

export interface FailureNotice {
  readonly streamArn: string;
  readonly streamName: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number;
  /** Why the event source gave up (RetryAttemptsExhausted, RecordAgeExceeded, …). */
  readonly condition: string;
}

export function isFailureNotice(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'KinesisBatchInfo' in body;
}

export function streamNameFromArn(arn: string): string {
  return arn.slice(arn.indexOf(':stream/') + ':stream/'.length);
}

export function parseFailureNotice(body: unknown): FailureNotice {
  const n = failureNoticeSchema.parse(body);
  const info = n.KinesisBatchInfo;
  return {
    streamArn: info.streamArn,
    streamName: streamNameFromArn(info.streamArn),
    shardId: info.shardId,
    startSequenceNumber: info.startSequenceNumber,
    endSequenceNumber: info.endSequenceNumber,
    batchSize: info.batchSize,
    condition: n.requestContext?.condition ?? 'unknown',
  };
}

/** Compares Kinesis sequence numbers (decimal strings of up to 128 digits). */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
