/**
 * Reading alerts opened or closed since a cursor (the writing transaction, as /api/changes uses),
 * for notifiers. The cursor can report a change twice (never miss one); events carry a key
 * (`<alertId>:opened` / `<alertId>:closed`) so a notifier sends each exactly once.
 */
import type pg from 'pg';

export interface AlertEvent {
  readonly key: string;
  readonly alertId: number;
  readonly sensorId: string;
  readonly kind: 'high' | 'low';
  readonly event: 'opened' | 'closed';
  /** Event time of the reading that opened (the N-th) or closed it. */
  readonly at: string;
  readonly openedAt: string;
  readonly closedAt: string | null;
  readonly peakValue: number;
  readonly readingCount: number;
  readonly openingReadings: readonly { event_time: string; value: number; position: string }[];
}

const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export class PostgresAlertFeed {
  constructor(private readonly pool: pg.Pool) {}

  async since(cursor: string | undefined, limit = 1_000): Promise<{ cursor: string; events: AlertEvent[] }> {
    const snapshot = await this.pool.query<{ cursor: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS cursor',
    );
    const next = snapshot.rows[0]?.cursor ?? '0';
    const { rows } = await this.pool.query<Omit<AlertEvent, 'key' | 'event' | 'at'>>(
      `SELECT alert_id::float8 AS "alertId", sensor_id AS "sensorId", kind, ${iso('opened_at')} AS "openedAt",
              ${iso('closed_at')} AS "closedAt", peak_value AS "peakValue", reading_count AS "readingCount",
              opening_readings AS "openingReadings"
       FROM alerts WHERE change_xid >= $1::xid8 ORDER BY alert_id LIMIT $2`,
      [cursor ?? '0', limit],
    );
    const events: AlertEvent[] = [];
    for (const row of rows) {
      events.push({ ...row, key: `${row.alertId}:opened`, event: 'opened', at: row.openedAt });
      if (row.closedAt) events.push({ ...row, key: `${row.alertId}:closed`, event: 'closed', at: row.closedAt });
    }
    return { cursor: rows.length === limit ? (cursor ?? '0') : next, events };
  }
}
