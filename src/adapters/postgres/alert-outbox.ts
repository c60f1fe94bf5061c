/**
 * PostgreSQL implementation of the {@link AlertOutbox} port: the reading-alert events not yet
 * published, from the marks the migration db/migrations/1764230000000 added to `alerts` (why a
 * mark per event and not a cursor: see that migration). An alert's opening and closing are two
 * events with keys `<alertId>:opened` and `<alertId>:closed`; a closing whose alert is read while
 * still open is simply not pending yet.
 */
import type pg from 'pg';
import { type AlertChange, type AlertEvent, alertEventKey } from '#domain/alert-event.js';
import type { AlertOutbox } from '#domain/ports.js';
import { ALERT_COLUMNS } from './sql-text.js';

/** The predicate of the partial index alerts_unpublished_idx, word for word, so the planner uses it. */
const UNPUBLISHED = 'opened_published_at IS NULL OR (closed_at IS NOT NULL AND closed_published_at IS NULL)';

export const PENDING_ALERT_EVENTS = `
SELECT ${ALERT_COLUMNS}, opening_readings AS "openingReadings",
       opened_published_at IS NULL AS "openPending",
       closed_at IS NOT NULL AND closed_published_at IS NULL AS "closePending"
FROM alerts WHERE ${UNPUBLISHED}
ORDER BY alert_id LIMIT $1`;

/** Marks only what is still unmarked: a repeat (two runs publishing at once) keeps the first time. */
export const MARK_PUBLISHED = `
UPDATE alerts a SET
  opened_published_at = CASE WHEN a.alert_id = ANY($1::bigint[]) THEN coalesce(a.opened_published_at, now())
                             ELSE a.opened_published_at END,
  closed_published_at = CASE WHEN a.alert_id = ANY($2::bigint[]) AND a.closed_at IS NOT NULL
                             THEN coalesce(a.closed_published_at, now()) ELSE a.closed_published_at END
WHERE a.alert_id = ANY($1::bigint[]) OR a.alert_id = ANY($2::bigint[])`;

type PendingRow = Omit<AlertEvent, 'key' | 'event' | 'at'> & { openPending: boolean; closePending: boolean };

function eventOf(row: PendingRow, event: AlertChange): AlertEvent {
  const { openPending: _o, closePending: _c, ...alert } = row;
  return {
    ...alert,
    key: alertEventKey(row.alertId, event),
    event,
    at: event === 'opened' ? row.openedAt : (row.closedAt ?? row.openedAt),
  };
}

/** `<alertId>:<event>` back to its parts; anything else is not a key of this outbox. */
function parseKey(key: string): { alertId: string; event: AlertChange } | undefined {
  const m = /^(\d+):(opened|closed)$/.exec(key);
  return m?.[1] && m[2] ? { alertId: m[1], event: m[2] as AlertChange } : undefined;
}

export class PostgresAlertOutbox implements AlertOutbox {
  constructor(private readonly pool: pg.Pool) {}

  async pending(limit: number): Promise<AlertEvent[]> {
    const { rows } = await this.pool.query<PendingRow>(PENDING_ALERT_EVENTS, [limit]);
    return rows.flatMap((row) => [
      ...(row.openPending ? [eventOf(row, 'opened')] : []),
      ...(row.closePending ? [eventOf(row, 'closed')] : []),
    ]);
  }

  async markPublished(keys: readonly string[]): Promise<void> {
    const parsed = keys.map(parseKey).filter((k) => k !== undefined);
    if (parsed.length === 0) return;
    const ids = (event: AlertChange) => parsed.filter((k) => k.event === event).map((k) => k.alertId);
    await this.pool.query(MARK_PUBLISHED, [ids('opened'), ids('closed')]);
  }
}
