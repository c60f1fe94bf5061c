/**
 * PostgreSQL implementation of the {@link AggregationStore} port.
 *
 * Which windows to recompute: every reading insert marks its (sensor, minute) in
 * aggregation_dirty_windows, in the same transaction, by a statement trigger (see the schema
 * migration). A watermark on a bigserial or a timestamp would miss readings that commit out of
 * order: a transaction that took id 100 can commit after the aggregator has read up to id 101.
 * Marks cannot be missed that way:
 *
 * 1. `claim` deletes marks (locking them in key order, the same order the trigger uses, so the
 *    two never deadlock). If an ingest transaction has touched a mark and not committed yet,
 *    the claim waits for it; READ COMMITTED then re-reads the mark after that commit.
 * 2. `recompute` runs as a separate statement, hence with a fresh snapshot taken after the
 *    claim: it sees every reading whose mark was claimed.
 * 3. A reading that commits after the claim re-creates its mark (the claim's delete is
 *    committed or, while in flight, makes the trigger's upsert wait), so the next run picks it
 *    up. Recomputing a window from all its readings makes runs idempotent.
 */
import type pg from 'pg';
import type { AggregationStore, WindowRecomputation } from '#domain/ports.js';

export const CLAIM_MARKED_WINDOWS = `
DELETE FROM aggregation_dirty_windows d
USING (
  SELECT sensor_id, window_start FROM aggregation_dirty_windows
  ORDER BY sensor_id, window_start
  LIMIT $1
  FOR UPDATE
) claimed
WHERE d.sensor_id = claimed.sensor_id AND d.window_start = claimed.window_start
RETURNING d.sensor_id, d.window_start::text AS window_start`;

/**
 * Each claimed window is aggregated on its own (LATERAL): one index-only range scan of
 * (sensor_id, event_time) per window, whatever the planner estimates. A join of all claimed
 * windows to sensor_readings, grouped afterwards, let a misestimate pick a hash join over the
 * whole table, so a run cost in proportion to the table rather than to the windows touched
 * (measured in `npm run bench`; see docs/benchmarks.md).
 */
// window_start travels as PostgreSQL's own text (offset included, to the second): a JS Date
// would be sent back in the process's time zone, whose historic offsets with seconds shift it.
export const RECOMPUTE_WINDOWS = `
INSERT INTO sensor_aggregations AS a (
  sensor_id, window_start, window_end, sensor_type, unit, reading_count, avg_value, min_value,
  max_value, stddev_value, high_alert_count, low_alert_count, updated_at)
SELECT w.sensor_id, w.window_start, w.window_start + interval '1 minute',
       s.sensor_type, s.unit, s.reading_count, s.avg_value, s.min_value, s.max_value, s.stddev_value,
       s.high_alert_count, s.low_alert_count, now()
FROM unnest($1::text[], $2::timestamptz[]) AS w(sensor_id, window_start)
CROSS JOIN LATERAL (
  SELECT min(r.sensor_type) AS sensor_type, min(r.unit) AS unit, count(*) AS reading_count,
         avg(r.value) AS avg_value, min(r.value) AS min_value, max(r.value) AS max_value,
         stddev_samp(r.value) AS stddev_value, count(*) FILTER (WHERE r.high_alert) AS high_alert_count,
         count(*) FILTER (WHERE r.low_alert) AS low_alert_count
  FROM sensor_readings r
  WHERE r.sensor_id = w.sensor_id
    AND r.event_time >= w.window_start
    AND r.event_time < w.window_start + interval '1 minute'
) s
WHERE s.reading_count > 0
ON CONFLICT (sensor_id, window_start) DO UPDATE SET
  sensor_type = EXCLUDED.sensor_type, unit = EXCLUDED.unit, reading_count = EXCLUDED.reading_count,
  avg_value = EXCLUDED.avg_value, min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value,
  stddev_value = EXCLUDED.stddev_value, high_alert_count = EXCLUDED.high_alert_count,
  low_alert_count = EXCLUDED.low_alert_count, updated_at = EXCLUDED.updated_at
RETURNING reading_count`;

/**
 * Reading alerts are evaluated here, in the transaction that recomputes the claimed windows: every
 * committed reading marks its window and every mark is claimed exactly once, so the sensors of the
 * claimed marks are exactly those with readings the alert state has not consumed yet (the
 * evaluation itself lives in SQL, evaluate_reading_alerts in db/migrations/1764200000000).
 */
export const EVALUATE_ALERTS = 'SELECT alert_id, sensor_id, kind, change FROM evaluate_reading_alerts($1::text[], $2)';

/** When the aggregator last finished a chunk, for /api/health. */
export const RECORD_HEARTBEAT = `
INSERT INTO pipeline_heartbeats (component, last_run_at, detail) VALUES ('aggregator', now(), $1)
ON CONFLICT (component) DO UPDATE SET last_run_at = EXCLUDED.last_run_at, detail = EXCLUDED.detail`;

/**
 * Last-hour activity per sensor for the fleet endpoint, refreshed once per run (on its last chunk):
 * one pass over the last hour of windows and rejections, however many sensors the fleet has.
 * Sensors with no activity in the hour lose their row (the API reads a missing row as zeros).
 */
export const REFRESH_ACTIVITY = `
WITH valid AS (
  SELECT sensor_id, sum(reading_count)::int AS n FROM sensor_aggregations
  WHERE window_start >= now() - interval '1 hour' GROUP BY sensor_id
), rejected AS (
  SELECT sensor_id, count(*)::int AS n FROM sensor_errors
  WHERE error_time >= now() - interval '1 hour' AND sensor_id IS NOT NULL GROUP BY sensor_id
), activity AS (
  SELECT sensor_id, coalesce(v.n, 0) AS valid, coalesce(r.n, 0) AS rejected
  FROM valid v FULL JOIN rejected r USING (sensor_id)
), gone AS (
  DELETE FROM sensor_activity s WHERE NOT EXISTS (SELECT 1 FROM activity a WHERE a.sensor_id = s.sensor_id)
)
INSERT INTO sensor_activity AS s (sensor_id, valid_last_hour, rejected_last_hour, computed_at)
SELECT sensor_id, valid, rejected, now() FROM activity ORDER BY sensor_id
ON CONFLICT (sensor_id) DO UPDATE SET valid_last_hour = EXCLUDED.valid_last_hour,
  rejected_last_hour = EXCLUDED.rejected_last_hour, computed_at = EXCLUDED.computed_at`;

export interface AggregationStoreOptions {
  /** Consecutive readings at an alert level that open a reading alert; 0 turns alerting off. */
  readonly alertConsecutiveReadings?: number;
}

export const DEFAULT_ALERT_CONSECUTIVE_READINGS = 3;

export class PostgresAggregationStore implements AggregationStore {
  private readonly alertConsecutiveReadings: number;

  constructor(
    private readonly pool: pg.Pool,
    options: AggregationStoreOptions = {},
  ) {
    this.alertConsecutiveReadings = options.alertConsecutiveReadings ?? DEFAULT_ALERT_CONSECUTIVE_READINGS;
  }

  async recomputeMarkedWindows(limit: number): Promise<WindowRecomputation> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const claimed = await client.query<{ sensor_id: string; window_start: string }>(CLAIM_MARKED_WINDOWS, [limit]);
      if (claimed.rowCount === 0) {
        await client.query(REFRESH_ACTIVITY);
        await client.query(RECORD_HEARTBEAT, [{ windows: 0 }]);
        await client.query('COMMIT');
        return { claimed: 0, windows: 0, readings: 0 };
      }
      const upserted = await client.query<{ reading_count: number }>(RECOMPUTE_WINDOWS, [
        claimed.rows.map((r) => r.sensor_id),
        claimed.rows.map((r) => r.window_start),
      ]);
      const alerts = await this.evaluateAlerts(client, claimed.rows);
      const result = {
        claimed: claimed.rowCount ?? 0,
        windows: upserted.rowCount ?? 0,
        readings: upserted.rows.reduce((sum, r) => sum + Number(r.reading_count), 0),
      };
      // The run's last chunk (fewer marks than asked for): refresh the last-hour figures once.
      if (result.claimed < limit) await client.query(REFRESH_ACTIVITY);
      await client.query(RECORD_HEARTBEAT, [{ ...result, alerts }]);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Opens and closes reading alerts for the claimed windows' sensors; returns how many changed. */
  private async evaluateAlerts(client: pg.PoolClient, claimed: readonly { sensor_id: string }[]): Promise<number> {
    if (this.alertConsecutiveReadings <= 0) return 0;
    const sensors = [...new Set(claimed.map((r) => r.sensor_id))];
    const changed = await client.query(EVALUATE_ALERTS, [sensors, this.alertConsecutiveReadings]);
    return changed.rowCount ?? 0;
  }
}
