/**
 * The DLQ drainer's use case. Three kinds of message arrive:
 * - rejections sent by the validator (many per message): stored in sensor_errors as they are;
 * - a failed-batch notice from the Kinesis event source (a shard and a sequence range the
 *   validator gave up on): the range is read back from the stream and every record in it is
 *   landed as a reading or a rejection, exactly as the validator would have. Records the stream
 *   no longer holds become one PROCESSING_FAILURE row naming the range;
 * - a topic rule's error message (the MQTT door's forward into the stream failed): the
 *   original payload is landed as the validator would have landed it from the stream, with a
 *   position naming the rule and its trace id (src/domain/topic-rule.ts);
 * - a failed-batch notice from the Kafka event source (the Kafka bridge gave up on an offset
 *   range): those records never reached the stream, so one PROCESSING_FAILURE row names the
 *   range and where to replay it from (src/domain/kafka-failure-notice.ts).
 * Everything is idempotent (stream position keys), so redelivered messages add nothing.
 * A message is reported failed (and retried, then redriven to the queue's own DLQ) only when
 * it cannot be landed; nothing is dropped silently.
 */

import { decodeErrorMessage, isErrorMessage } from '#domain/error-message.js';
import { toStorableText } from '#domain/error-record.js';
import { type FailureNotice, isFailureNotice, parseFailureNotice } from '#domain/failure-notice.js';
import { isKafkaFailureNotice, kafkaNoticeErrorRecord, parseKafkaFailureNotice } from '#domain/kafka-failure-notice.js';
import type { PipelineStore, StreamReader } from '#domain/ports.js';
import type { ErrorRecord } from '#domain/reading.js';
import type { PositionedRecord } from '#domain/stream.js';
import {
  isRuleErrorMessage,
  parseRuleErrorMessage,
  type RuleErrorMessage,
  ruleErrorToRecord,
} from '#domain/topic-rule.js';
import { classifyBatch } from './classify-batch.js';
import { describeError } from './describe-error.js';

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
}

export interface DrainDeps {
  readonly store: PipelineStore;
  readonly streamReader: StreamReader;
  readonly payloadCapBytes: number;
  /**
   * The MQTT door's rule (topology `mqttDoor`): the partition key it would have written, so a
   * failed forward is landed with the same identity. Without it such messages are not landed.
   */
  readonly topicRule?: { readonly partitionKey: string };
  readonly now?: () => Date;
}

export interface DrainOutcome {
  readonly errorsLanded: number;
  readonly readingsLanded: number;
  readonly noticesHandled: number;
  readonly failedMessageIds: readonly string[];
  readonly problems: readonly string[];
}

/** Rejections come from our own validator, but a queue accepts anyone's messages. */
function sanitized(e: ErrorRecord): ErrorRecord {
  return {
    ...e,
    errorMessage: toStorableText(e.errorMessage),
    sensorId: e.sensorId === null ? null : toStorableText(e.sensorId),
  };
}

/**
 * Messages sorted by kind; the ones that are none of them are already failed, with the reason.
 * A Kafka notice becomes its error row right away and is stored with the rejections.
 */
interface Sorted {
  readonly rejections: { messageId: string; record: ErrorRecord }[];
  readonly kafkaNoticeIds: string[];
  readonly notices: { messageId: string; notice: FailureNotice }[];
  readonly ruleErrors: { messageId: string; message: RuleErrorMessage }[];
}

/** What fails where, gathered across the steps of one drain. */
interface Failures {
  readonly failed: Set<string>;
  readonly problems: string[];
}

export async function drainMessages(messages: readonly QueueMessage[], deps: DrainDeps): Promise<DrainOutcome> {
  const failures: Failures = { failed: new Set<string>(), problems: [] };
  const { rejections, kafkaNoticeIds, notices, ruleErrors } = sortMessages(messages, deps, failures);
  const errorsFromRejections = await storeRejections(rejections, deps, failures);
  const fromNotices = await landNotices(notices, deps, failures);
  const fromRuleErrors = await landRuleErrors(ruleErrors, deps, failures);
  return {
    errorsLanded: errorsFromRejections + fromNotices.errors + fromRuleErrors.errors,
    readingsLanded: fromNotices.readings + fromRuleErrors.readings,
    noticesHandled: notices.length + ruleErrors.length + kafkaNoticeIds.length,
    failedMessageIds: messages.map((m) => m.messageId).filter((id) => failures.failed.has(id)),
    problems: failures.problems,
  };
}

function sortMessages(messages: readonly QueueMessage[], deps: DrainDeps, { failed, problems }: Failures): Sorted {
  const sorted: Sorted = { rejections: [], kafkaNoticeIds: [], notices: [], ruleErrors: [] };
  const now = (deps.now ?? (() => new Date()))();
  for (const message of messages) {
    try {
      const body: unknown = JSON.parse(message.body);
      if (isErrorMessage(body)) {
        for (const record of decodeErrorMessage(body))
          sorted.rejections.push({ messageId: message.messageId, record: sanitized(record) });
      } else if (isFailureNotice(body))
        sorted.notices.push({ messageId: message.messageId, notice: parseFailureNotice(body) });
      else if (isKafkaFailureNotice(body)) {
        const record = kafkaNoticeErrorRecord(parseKafkaFailureNotice(body), now);
        sorted.rejections.push({ messageId: message.messageId, record });
        sorted.kafkaNoticeIds.push(message.messageId);
      } else if (isRuleErrorMessage(body) && deps.topicRule)
        sorted.ruleErrors.push({ messageId: message.messageId, message: parseRuleErrorMessage(body) });
      else throw new Error('neither a rejection nor a failed-batch notice');
    } catch (error) {
      failed.add(message.messageId);
      problems.push(`message ${message.messageId} not understood: ${describeError(error)}`);
    }
  }
  return sorted;
}

/** All rejections in one write; a message is failed when any of its rejections was not stored. */
async function storeRejections(
  rejections: Sorted['rejections'],
  deps: DrainDeps,
  { failed, problems }: Failures,
): Promise<number> {
  if (rejections.length === 0) return 0;
  try {
    const result = await deps.store.insertErrors(rejections.map((r) => r.record));
    for (const { index, reason } of result.refused) {
      const messageId = rejections[index]?.messageId ?? '';
      failed.add(messageId);
      problems.push(`message ${messageId} refused by the database: ${reason}`);
    }
    return result.inserted;
  } catch (error) {
    for (const r of rejections) failed.add(r.messageId);
    problems.push(`database: ${describeError(error)}`);
    return 0;
  }
}

/** Each notice on its own, so one that cannot be landed does not hold back the others. */
async function landNotices(
  notices: Sorted['notices'],
  deps: DrainDeps,
  { failed, problems }: Failures,
): Promise<{ readings: number; errors: number }> {
  const landed = { readings: 0, errors: 0 };
  for (const { messageId, notice } of notices) {
    try {
      const one = await landNotice(notice, deps);
      landed.errors += one.errors;
      landed.readings += one.readings;
    } catch (error) {
      failed.add(messageId);
      const range = `${notice.shardId} ${notice.startSequenceNumber}..${notice.endSequenceNumber}`;
      problems.push(`notice ${messageId} (${range}): ${describeError(error)}`);
    }
  }
  return landed;
}

async function landNotice(notice: FailureNotice, deps: DrainDeps): Promise<{ readings: number; errors: number }> {
  const now = (deps.now ?? (() => new Date()))();
  const { records, complete } = await deps.streamReader.readRange(notice);
  const missing = Math.max(0, notice.batchSize - records.length);
  const lost = !complete || missing > 0 ? [lostRange(notice, Math.max(missing, 1), records.length, now)] : [];
  return landRecords(records, deps, now, lost);
}

/** Records landed exactly as the validator would have: readings, rejections, plus `extra` error rows. */
async function landRecords(
  records: readonly PositionedRecord[],
  deps: DrainDeps,
  now: Date,
  extra: readonly ErrorRecord[] = [],
): Promise<{ readings: number; errors: number }> {
  const batch = classifyBatch(records, { payloadCapBytes: deps.payloadCapBytes, now });
  const written = await deps.store.insertReadings(batch.rows);
  const stored = await deps.store.insertErrors([
    ...batch.rejections,
    ...batch.rejectionsFor(written.refused),
    ...extra,
  ]);
  if (stored.refused.length > 0)
    throw new Error(`database refused ${stored.refused.length} error row(s): ${stored.refused[0]?.reason}`);
  return { readings: written.inserted, errors: stored.inserted };
}

/** Each message the topic rule could not forward, landed on its own. */
async function landRuleErrors(
  ruleErrors: Sorted['ruleErrors'],
  deps: DrainDeps,
  { failed, problems }: Failures,
): Promise<{ readings: number; errors: number }> {
  const landed = { readings: 0, errors: 0 };
  for (const { messageId, message } of ruleErrors) {
    try {
      const now = (deps.now ?? (() => new Date()))();
      const rule = {
        streamName: message.failures[0]?.failedResource ?? '',
        partitionKey: deps.topicRule?.partitionKey ?? '',
      };
      const one = await landRecords([ruleErrorToRecord(message, rule, now)], deps, now);
      landed.errors += one.errors;
      landed.readings += one.readings;
    } catch (error) {
      failed.add(messageId);
      problems.push(
        `rule error ${messageId} (${message.ruleName} ${message.cloudwatchTraceId}): ${describeError(error)}`,
      );
    }
  }
  return landed;
}

/**
 * The row that stands for records the stream no longer holds. Its sequence_number names the
 * range (`start..end`), which keeps it unique and idempotent per notice.
 */
function lostRange(notice: FailureNotice, missing: number, found: number, now: Date): ErrorRecord {
  return {
    errorType: 'PROCESSING_FAILURE',
    errorMessage:
      `the event source gave up on ${notice.batchSize} record(s) of ${notice.shardId} ` +
      `(${notice.startSequenceNumber}..${notice.endSequenceNumber}, ${notice.condition}); ` +
      `${missing} could not be read back from the stream (${found} were landed)`,
    rawBytes: new Uint8Array(),
    rawSize: 0,
    sensorId: null,
    readingId: null,
    position: {
      streamName: notice.streamName,
      shardId: notice.shardId,
      sequenceNumber: `${notice.startSequenceNumber}..${notice.endSequenceNumber}`,
      partitionKey: null,
      arrivalTime: null,
    },
    errorTime: now,
  };
}
