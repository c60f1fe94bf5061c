/**
 * A reading alert's change as it leaves the pipeline (issue 10): one event per alert opened and
 * one per alert closed, each with a key (`<alertId>:opened` / `<alertId>:closed`) that stays the
 * same however often the event is delivered. Delivery is at least once (a publish whose
 * acknowledgement is lost is sent again), so every consumer drops a key it has already seen.
 *
 * The message is the same on every target: the JSON body below, published to the alert topic
 * with the message attributes of {@link alertMessageAttributes}; an SQS subscriber receives it in
 * SNS's notification envelope (`Message` = the body, `MessageAttributes` = the attributes), an
 * e-mail subscriber gets the subject and the body.
 */
import { z } from 'zod';
import { asciiJson } from './ascii-json.js';

export type AlertKind = 'high' | 'low';
export type AlertChange = 'opened' | 'closed';

export interface AlertEvent {
  readonly key: string;
  readonly alertId: number;
  readonly sensorId: string;
  readonly kind: AlertKind;
  readonly event: AlertChange;
  /** Event time of the reading that opened (the N-th) or closed it. */
  readonly at: string;
  readonly openedAt: string;
  readonly closedAt: string | null;
  readonly peakValue: number;
  readonly readingCount: number;
  readonly openingReadings: readonly { event_time: string; value: number; position: string }[];
}

/** The message attribute `type` of every reading alert: alarms on the same topic carry none. */
export const READING_ALERT_TYPE = 'reading-alert';

export function alertEventKey(alertId: number, event: AlertChange): string {
  return `${alertId}:${event}`;
}

/**
 * The message body: the event as ASCII JSON (the key included, so a body alone can be
 * deduplicated). A sensor id may hold characters SQS refuses (U+FFFE, U+FFFF), and an SQS
 * subscriber would never receive a message carrying them.
 */
export function alertMessageBody(e: AlertEvent): string {
  return asciiJson(e);
}

/** SNS subjects are fewer than 100 ASCII characters with no line breaks (they become e-mail subjects). */
export function alertSubject(e: Pick<AlertEvent, 'sensorId' | 'kind' | 'event'>): string {
  const sensor = e.sensorId.replace(/[^\x20-\x7e]/g, '?');
  return `[IoT First] ${sensor} ${e.kind} alert ${e.event}`.slice(0, 99);
}

/**
 * The attributes a subscriber filters or deduplicates on, without parsing the body: `key` (drop a
 * repeat), `type` (reading-alert; the pipeline's alarms on the same topic have none), `event`,
 * `kind` and `sensorId` (an SNS filter policy can pick, say, only openings).
 */
export function alertMessageAttributes(e: AlertEvent): Record<string, string> {
  // The id as its ASCII JSON text without the quotes: the same for every ordinary id, and one SQS
  // accepts for any other.
  return {
    key: e.key,
    type: READING_ALERT_TYPE,
    event: e.event,
    kind: e.kind,
    sensorId: asciiJson(e.sensorId).slice(1, -1),
  };
}

const openingReading = z.object({ event_time: z.string(), value: z.number(), position: z.string() });

const alertEventSchema = z.object({
  key: z.string().regex(/^\d+:(opened|closed)$/),
  alertId: z.number().int().positive(),
  sensorId: z.string().min(1),
  kind: z.enum(['high', 'low']),
  event: z.enum(['opened', 'closed']),
  at: z.string(),
  openedAt: z.string(),
  closedAt: z.string().nullable(),
  peakValue: z.number(),
  readingCount: z.number().int().positive(),
  openingReadings: z.array(openingReading),
});

/**
 * The event of a message body, or the reason it is not one (a message someone else published to
 * the topic, a body cut short). The key must match the alert id and event it names.
 */
export function parseAlertMessage(body: string): { ok: true; event: AlertEvent } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = alertEventSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((i) => i.path.join('.')).join(', ') };
  const e = parsed.data;
  if (e.key !== alertEventKey(e.alertId, e.event)) return { ok: false, reason: `key ${e.key} does not name the event` };
  return { ok: true, event: e };
}
