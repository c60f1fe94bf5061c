/**
 * The parts of an AWS IoT topic rule the MQTT door relies on, as pure functions, so the local
 * rule engine (runtime/mqtt), the drainer (a failed forward's error message) and the CDK stack
 * read one topology entry the same way:
 * - MQTT topic filters (`+` one level, `#` the rest), as IoT's `FROM 'filter'` matches them;
 * - substitution templates (`${topic(3)}`, `${topic()}`, `${clientid()}`), the subset of IoT's
 *   that a partition key expression here may use; anything else is refused at start, so the
 *   local engine can never silently compute another key than AWS would;
 * - the error action's message (IoT's documented format), turned back into a stream record.
 */
import { z } from 'zod';
import type { PositionedRecord } from './stream.js';

/** True when `topic` (no wildcards) matches `filter` (MQTT 3.1.1 section 4.7). */
export function matchesTopicFilter(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i < t.length || i === t.length; // `a/#` also matches `a`
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** What a substitution template can read from one message. */
export interface MessageContext {
  readonly topic: string;
  readonly clientId: string;
}

const FUNCTION_CALL = /\$\{\s*([a-z]+)\(\s*(\d*)\s*\)\s*\}/gi;

/**
 * Renders an IoT substitution template. `topic(n)` is 1-based, as in IoT SQL; a level that does
 * not exist renders empty (IoT renders an undefined value as empty too).
 */
export function renderTemplate(template: string, message: MessageContext): string {
  assertSupportedTemplate(template);
  return template.replace(FUNCTION_CALL, (_all, name: string, arg: string) => {
    switch (name.toLowerCase()) {
      case 'topic':
        return arg === '' ? message.topic : (message.topic.split('/')[Number(arg) - 1] ?? '');
      case 'clientid':
        return message.clientId;
      default:
        return '';
    }
  });
}

/** Throws unless every `${...}` in the template is one of the functions {@link renderTemplate} knows. */
export function assertSupportedTemplate(template: string): void {
  const calls = template.match(/\$\{[^}]*\}/g) ?? [];
  for (const call of calls) {
    const m = /^\$\{\s*([a-z]+)\(\s*(\d*)\s*\)\s*\}$/i.exec(call);
    const name = m?.[1]?.toLowerCase();
    const ok = name === 'topic' || (name === 'clientid' && m?.[2] === '');
    if (!ok)
      throw new RangeError(`unsupported substitution ${call} (supported: \${topic(n)}, \${topic()}, \${clientid()})`);
  }
}

/**
 * The message an IoT rule's error action sends when an action failed (AWS IoT developer guide,
 * "Error action message format"). The local rule engine writes the same shape.
 */
export const ruleErrorMessageSchema = z.object({
  ruleName: z.string().min(1),
  topic: z.string().min(1),
  cloudwatchTraceId: z.string().min(1).max(200),
  clientId: z.string(),
  base64OriginalPayload: z.base64(),
  failures: z
    .array(
      z.object({
        failedAction: z.string(),
        failedResource: z.string(),
        errorMessage: z.string(),
      }),
    )
    .min(1),
});
export type RuleErrorMessage = z.output<typeof ruleErrorMessageSchema>;

export function isRuleErrorMessage(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'ruleName' in body && 'base64OriginalPayload' in body;
}

export function parseRuleErrorMessage(body: unknown): RuleErrorMessage {
  return ruleErrorMessageSchema.parse(body);
}

/** Shard id of the rows of records that never reached the stream: they name the rule instead. */
export const RULE_ERROR_SHARD_ID = 'topic-rule-error';

/**
 * A forward that failed never got a stream position. Its record is landed with a position that
 * names where it came from instead: the stream it was meant for, a shard id that no Kinesis
 * shard has, and the rule's trace id (unique per message, so a redelivered error message adds
 * nothing). The partition key is the one the rule would have written, so the identity rule
 * applies exactly as on the stream.
 */
export function ruleErrorToRecord(
  message: RuleErrorMessage,
  rule: { readonly streamName: string; readonly partitionKey: string },
  receivedAt: Date,
): PositionedRecord {
  return {
    data: new Uint8Array(Buffer.from(message.base64OriginalPayload, 'base64')),
    position: {
      streamName: rule.streamName,
      shardId: RULE_ERROR_SHARD_ID,
      sequenceNumber: `${message.ruleName}:${message.cloudwatchTraceId}`,
      partitionKey: renderTemplate(rule.partitionKey, { topic: message.topic, clientId: message.clientId }),
      arrivalTime: receivedAt,
    },
  };
}
