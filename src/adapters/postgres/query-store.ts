/**
 * Read-only PostgreSQL implementation of the query API's {@link QueryStore} port. It connects as
 * a member of `iot_api` (SELECT only, plus the token table), and every statement is bounded: each
 * reads one sensor's index range, one page of a keyset, a capped time range, or the per-sensor
 * state kept on the write path (sensor_latest), never a scan that grows with sensor_readings.
 *
 * Instants leave PostgreSQL as text: keys with microseconds (a JavaScript Date would round them
 * and a keyset would skip or repeat rows), displayed values with milliseconds.
 */
import type pg from 'pg';
import { type AlertSummary, type DqLatestReply, type DqRunSummary, STEPS, type Step } from '#domain/api.js';
import type {
  ChangeSet,
  ErrorKey,
  ErrorSelection,
  FleetRow,
  FleetSelection,
  HealthFacts,
  QueryStore,
  ReadingKey,
  WindowSelection,
  WindowsPageParts,
} from '#domain/query-ports.js';
import { ALERT_COLUMNS, isoText } from './sql-text.js';

/** Microsecond UTC text of a timestamptz: the form keys travel in. */
const key = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
/** Millisecond UTC text, as shown to clients. */
const iso = isoText;

const stepInterval = (step: Step) => `${STEPS[step]} minutes`;
/** Buckets are binned from a UTC midnight, so every step (all divide a day) aligns to UTC. */
const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;

const alertJson = (a: string) => `json_build_object(
  'alertId', ${a}.alert_id, 'sensorId', ${a}.sensor_id, 'kind', ${a}.kind, 'openedAt', ${iso(`${a}.opened_at`)},
  'closedAt', ${iso(`${a}.closed_at`)}, 'peakValue', ${a}.peak_value, 'readingCount', ${a}.reading_count)`;

/**
 * The windows rollup, as CTEs ending in `r` (one row per non-empty bucket): 1-minute windows (and,
 * for minutes the aggregator has not reached, raw readings grouped by minute) combined per
 * UTC-aligned bucket. Count-weighted mean; pooled sample standard deviation from each window's
 * count, mean and sample deviation (exactly the sample deviation of all the bucket's readings).
 * Parameters: $1 sensor, $2 step interval, $3 first bucket start, $4 page end, $5 raw-from.
 */
const ROLLED = `
WITH w AS (
  SELECT date_bin($2::interval, window_start, ${ORIGIN}) AS bucket, reading_count::float8 AS n,
         avg_value AS a, min_value AS lo, max_value AS hi, coalesce(stddev_value, 0) AS sd,
         high_alert_count AS h, low_alert_count AS l
  FROM sensor_aggregations
  WHERE sensor_id = $1 AND window_start >= $3::timestamptz AND window_start < least($4::timestamptz, $5::timestamptz)
  UNION ALL
  SELECT date_bin($2::interval, date_trunc('minute', event_time, 'UTC'), ${ORIGIN}), count(*)::float8,
         avg(value), min(value), max(value), coalesce(stddev_samp(value), 0),
         count(*) FILTER (WHERE high_alert), count(*) FILTER (WHERE low_alert)
  FROM sensor_readings
  WHERE sensor_id = $1 AND event_time >= greatest($3::timestamptz, $5::timestamptz) AND event_time < $4::timestamptz
  GROUP BY date_trunc('minute', event_time, 'UTC')
), m AS (
  SELECT *, sum(n * a) OVER (PARTITION BY bucket) / sum(n) OVER (PARTITION BY bucket) AS mean FROM w
), r AS (
  SELECT bucket, sum(n)::int AS count, sum(n * a) / sum(n) AS avg, min(lo) AS min, max(hi) AS max,
         CASE WHEN sum(n) > 1 THEN sqrt(greatest(sum((n - 1) * sd * sd + n * (a - mean) * (a - mean)), 0) / (sum(n) - 1)) END
           AS stddev,
         sum(h)::int AS "highAlertCount", sum(l)::int AS "lowAlertCount"
  FROM m GROUP BY bucket
)`;

/**
 * The rollup's rows alone, one per non-empty bucket: the bare SQL for the windows endpoint's
 * result, the benchmark's baseline (bench/api.ts). The API runs WINDOWS_REPLY instead.
 */
export const WINDOWS_ROLLUP = `${ROLLED}
SELECT (extract(epoch FROM bucket) * 1000)::float8 AS start, count, avg, min, max, stddev, "highAlertCount",
       "lowAlertCount"
FROM r ORDER BY bucket`;

/**
 * A whole windows page in one statement: the rollup's buckets as one compact text (see
 * WindowsPageParts.rolled; numbers in float8's text form, which the use case splices into its
 * JSON reply as they are, so no value is parsed and printed again), the newest reading before
 * `from` and the alerts as JSON text, and whether the sensor exists. One row instead of one per
 * bucket, and no second statement. $6 is the most alerts returned. Exported so the benchmark can
 * run it bare.
 */
export const WINDOWS_REPLY = `${ROLLED}
SELECT EXISTS (SELECT 1 FROM sensor_latest WHERE sensor_id = $1) AS exists,
       (SELECT coalesce(string_agg(concat((date_part('epoch', bucket) * 1000)::bigint, ',', count, ',', avg, ',', min,
                 ',', max, ',', coalesce(stddev::text, 'null'), ',', "highAlertCount", ',', "lowAlertCount"), ';'
                 ORDER BY bucket), '')
        FROM r) AS rolled,
       coalesce((SELECT json_build_object('eventTime', ${iso('event_time')}, 'value', value)::text FROM sensor_readings
                 WHERE sensor_id = $1 AND event_time < $3::timestamptz ORDER BY event_time DESC LIMIT 1), 'null')
         AS "lastBefore",
       (SELECT coalesce(json_agg(a ORDER BY a."openedAt"), '[]'::json)::text FROM (
          SELECT ${ALERT_COLUMNS} FROM alerts
          WHERE sensor_id = $1 AND opened_at < $4::timestamptz AND (closed_at IS NULL OR closed_at >= $3::timestamptz)
          ORDER BY opened_at LIMIT $6) a) AS alerts`;

/** Parameters of {@link WINDOWS_REPLY} ({@link WINDOWS_ROLLUP} takes the first five). */
export function windowsReplyParams(s: WindowSelection): unknown[] {
  return [s.sensorId, stepInterval(s.step), s.from, s.to, s.rawFrom, s.alertLimit];
}

interface FleetSql {
  readonly where: string[];
  readonly params: unknown[];
}

function fleetFilters(s: FleetSelection): FleetSql {
  const params: unknown[] = [];
  const where: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (s.sensorId !== undefined) where.push(`l.sensor_id = ${p(s.sensorId)}`);
  if (s.type !== undefined) where.push(`l.sensor_type = ${p(s.type)}`);
  if (s.idContains !== undefined) where.push(`strpos(l.sensor_id, ${p(s.idContains)}) > 0`);
  if (s.seenAtOrAfter !== undefined) where.push(`l.event_time >= ${p(s.seenAtOrAfter)}::timestamptz`);
  if (s.seenBefore !== undefined) where.push(`l.event_time < ${p(s.seenBefore)}::timestamptz`);
  const open = 'EXISTS (SELECT 1 FROM alerts oa WHERE oa.sensor_id = l.sensor_id AND oa.closed_at IS NULL)';
  if (s.alert === 'open') where.push(open);
  if (s.alert === 'none') where.push(`NOT ${open}`);
  const cmp = s.order === 'asc' ? '>' : '<';
  if (s.after && s.sort === 'id') where.push(`l.sensor_id ${cmp} ${p(s.after.sensorId)}`);
  if (s.after && s.sort === 'lastSeen') {
    where.push(`(l.event_time, l.sensor_id) ${cmp} (${p(s.after.key)}::timestamptz, ${p(s.after.sensorId)})`);
  }
  return { where, params };
}

/** One page of sensor_latest first, then the per-sensor figures for that page only. */
function fleetSql(s: FleetSelection): { text: string; values: unknown[] } {
  const { where, params } = fleetFilters(s);
  const dir = s.order === 'asc' ? 'ASC' : 'DESC';
  const order = s.sort === 'id' ? `l.sensor_id ${dir}` : `l.event_time ${dir}, l.sensor_id ${dir}`;
  params.push(s.limit);
  const limit = `$${params.length}`;
  const text = `
SELECT l.sensor_id AS "sensorId", l.sensor_type AS "sensorType", l.unit, l.manufacturer, l.model,
       l.status AS "deviceStatus", l.value, l.normalized_value AS "normalizedValue", l.high_alert AS "highAlert",
       l.low_alert AS "lowAlert", l.min, l.max, ${key('l.event_time')} AS "eventTime",
       ${iso('l.processing_time')} AS "processingTime",
       coalesce(act.rejected_last_hour, 0) AS "rejectedLastHour", coalesce(act.valid_last_hour, 0) AS "validLastHour",
       (SELECT coalesce(json_agg(${alertJson('al')} ORDER BY al.opened_at), '[]'::json) FROM alerts al
         WHERE al.sensor_id = l.sensor_id AND al.closed_at IS NULL) AS "openAlerts"
FROM (
  SELECT l.* FROM sensor_latest l
  ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
  ORDER BY ${order}
  LIMIT ${limit}
) l
LEFT JOIN sensor_activity act ON act.sensor_id = l.sensor_id
ORDER BY ${order}`;
  return { text, values: params };
}

const READINGS_PAGE = `
SELECT ${iso('event_time')} AS "eventTime", value, normalized_value AS "normalizedValue", high_alert AS "highAlert",
       low_alert AS "lowAlert", unit, reading_id::text AS "readingId", ${iso('processing_time')} AS "processingTime",
       stream_name AS "streamName", shard_id AS "shardId", sequence_number AS "sequenceNumber",
       ${key('event_time')} AS "eventTimeKey"
FROM sensor_readings
WHERE sensor_id = $1 AND event_time < $2::timestamptz
  AND ($3::timestamptz IS NULL OR event_time >= $3::timestamptz)
  AND ($4::timestamptz IS NULL OR (event_time <= $4::timestamptz
       AND (event_time, shard_id, sequence_number) < ($4::timestamptz, $5::text, $6::text)))
ORDER BY event_time DESC, shard_id DESC, sequence_number DESC
LIMIT $7`;

function errorFilter(s: ErrorSelection, first: number): { sql: string; params: unknown[] } {
  const params: unknown[] = [s.from, s.to];
  const parts = [`error_time >= $${first}::timestamptz`, `error_time < $${first + 1}::timestamptz`];
  if (s.type !== undefined) {
    params.push(s.type);
    parts.push(`error_type = $${first + params.length - 1}`);
  }
  if (s.sensorId !== undefined) {
    params.push(s.sensorId);
    parts.push(`sensor_id = $${first + params.length - 1}`);
  }
  return { sql: parts.join(' AND '), params };
}

const DQ_RUN_SUMMARY = `
SELECT d.run_id AS "runId", ${key('r.run_started_at')} AS "startedAtKey", ${iso('r.run_started_at')} AS "startedAt",
       ${iso('max(d.checked_at)')} AS "checkedAt",
       count(*) FILTER (WHERE d.outcome = 'pass')::int AS passed, count(*) FILTER (WHERE d.outcome = 'warn')::int AS warned,
       count(*) FILTER (WHERE d.outcome = 'fail')::int AS failed, count(*) FILTER (WHERE d.outcome = 'error')::int AS errored,
       CASE WHEN bool_or(d.outcome = 'error') THEN 'error' WHEN bool_or(d.outcome = 'fail') THEN 'fail'
            WHEN bool_or(d.outcome = 'warn') THEN 'warn' ELSE 'pass' END AS outcome
FROM runs r JOIN dq_check_results d ON d.run_id = r.run_id AND d.run_started_at = r.run_started_at
GROUP BY d.run_id, r.run_started_at
ORDER BY r.run_started_at DESC, d.run_id DESC`;

const DQ_RUNS_PAGE = `
WITH runs AS (
  SELECT run_id, run_started_at FROM dq_check_results
  WHERE $1::timestamptz IS NULL OR (run_started_at, run_id) < ($1::timestamptz, $2::text)
  GROUP BY run_started_at, run_id
  ORDER BY run_started_at DESC, run_id DESC
  LIMIT $3
)${DQ_RUN_SUMMARY}`;

const DQ_RUNS_CHANGED = `
WITH runs AS (
  SELECT DISTINCT run_id, run_started_at FROM dq_check_results WHERE change_xid >= $1::xid8 LIMIT $2
)${DQ_RUN_SUMMARY}`;

type DqRunRow = DqRunSummary & { startedAtKey: string };

export class PostgresQueryStore implements QueryStore {
  constructor(private readonly pool: pg.Pool) {}

  private async rows<T extends object>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(text, values)).rows;
  }

  async fleet(selection: FleetSelection): Promise<FleetRow[]> {
    const { text, values } = fleetSql(selection);
    return this.rows<FleetRow>(text, values);
  }

  async recentAlerts(sensorId: string, limit: number): Promise<AlertSummary[]> {
    return this.rows<AlertSummary>(
      `SELECT ${ALERT_COLUMNS} FROM alerts WHERE sensor_id = $1 ORDER BY opened_at DESC LIMIT $2`,
      [sensorId, limit],
    );
  }

  async sensorExists(sensorId: string): Promise<boolean> {
    return (await this.rows(`SELECT 1 FROM sensor_latest WHERE sensor_id = $1`, [sensorId])).length > 0;
  }

  async readings(
    sensorId: string,
    range: { from?: string | undefined; to: string; after?: ReadingKey | undefined; limit: number },
  ) {
    const rows = await this.rows<{
      eventTime: string;
      value: number;
      normalizedValue: number;
      highAlert: boolean;
      lowAlert: boolean;
      unit: string;
      readingId: string | null;
      processingTime: string;
      streamName: string;
      shardId: string;
      sequenceNumber: string;
      eventTimeKey: string;
    }>(READINGS_PAGE, [
      sensorId,
      range.to,
      range.from ?? null,
      range.after?.eventTime ?? null,
      range.after?.shardId ?? null,
      range.after?.sequenceNumber ?? null,
      range.limit,
    ]);
    return rows.map(({ streamName, shardId, sequenceNumber, eventTimeKey, ...r }) => ({
      ...r,
      position: { streamName, shardId, sequenceNumber },
      key: { eventTime: eventTimeKey, shardId, sequenceNumber },
    }));
  }

  async windows(selection: WindowSelection): Promise<WindowsPageParts> {
    const [row] = await this.rows<WindowsPageParts>(WINDOWS_REPLY, windowsReplyParams(selection));
    if (!row) throw new Error('windows query returned no row');
    return row;
  }

  async errorCounts(selection: ErrorSelection & { step: Step }) {
    const filter = errorFilter(selection, 2);
    return this.rows<{ start: number; type: string; count: number }>(
      `SELECT (extract(epoch FROM date_bin($1::interval, error_time, ${ORIGIN})) * 1000)::float8 AS start,
              error_type AS type, count(*)::int AS count
       FROM sensor_errors WHERE ${filter.sql} GROUP BY 1, 2 ORDER BY 1, 2`,
      [stepInterval(selection.step), ...filter.params],
    );
  }

  async errorRows(selection: ErrorSelection & { after?: ErrorKey | undefined; limit: number }) {
    const filter = errorFilter(selection, 6);
    const a = selection.after;
    const rows = await this.rows<{
      errorType: string;
      errorMessage: string;
      sensorId: string | null;
      rawText: string | null;
      rawBase64: string | null;
      rawSize: number;
      errorTime: string;
      errorTimeKey: string;
      streamName: string;
      shardId: string;
      sequenceNumber: string;
    }>(
      `SELECT error_type AS "errorType", error_message AS "errorMessage", sensor_id AS "sensorId", raw_value AS "rawText",
              encode(raw_bytes, 'base64') AS "rawBase64", raw_size AS "rawSize", ${iso('error_time')} AS "errorTime",
              ${key('error_time')} AS "errorTimeKey", stream_name AS "streamName", shard_id AS "shardId",
              sequence_number AS "sequenceNumber"
       FROM sensor_errors
       WHERE ${filter.sql}
         AND ($1::timestamptz IS NULL OR (error_time <= $1::timestamptz
              AND (error_time, stream_name, shard_id, sequence_number) < ($1::timestamptz, $2::text, $3::text, $4::text)))
       ORDER BY error_time DESC, stream_name DESC, shard_id DESC, sequence_number DESC
       LIMIT $5`,
      [
        a?.errorTime ?? null,
        a?.streamName ?? null,
        a?.shardId ?? null,
        a?.sequenceNumber ?? null,
        selection.limit,
        ...filter.params,
      ],
    );
    return rows.map(({ errorTimeKey, streamName, shardId, sequenceNumber, rawBase64, ...r }) => ({
      ...r,
      // encode(…, 'base64') wraps lines every 76 characters.
      rawBase64: rawBase64?.replace(/\n/g, '') ?? null,
      position: { streamName, shardId, sequenceNumber },
      key: { errorTime: errorTimeKey, streamName, shardId, sequenceNumber },
    }));
  }

  async dqRuns(page: { after?: { startedAt: string; runId: string } | undefined; limit: number }) {
    return this.rows<DqRunRow>(DQ_RUNS_PAGE, [page.after?.startedAt ?? null, page.after?.runId ?? null, page.limit]);
  }

  async dqLatest(): Promise<DqLatestReply['run']> {
    const [run] = await this.dqRuns({ limit: 1 });
    if (!run) return null;
    const checks = await this.rows<NonNullable<DqLatestReply['run']>['checks'][number]>(
      `SELECT check_file AS file, check_line AS line, check_name AS name, table_name AS "table", metric,
              metric_value AS value, outcome, thresholds, error
       FROM dq_check_results WHERE run_id = $1 ORDER BY check_file, check_line`,
      [run.runId],
    );
    const { startedAtKey: _key, ...summary } = run;
    return { ...summary, checks };
  }

  async health(): Promise<HealthFacts> {
    const [row] = await this.rows<HealthFacts>(`
      SELECT (SELECT ${iso('last_run_at')} FROM pipeline_heartbeats WHERE component = 'aggregator') AS "aggregatorLastRunAt",
             p.n AS "pendingWindows", ${iso('p.oldest')} AS "oldestPendingWindow",
             ${iso('d.run_started_at')} AS "dqLastRunAt", d.outcome AS "dqOutcome",
             ${iso('pg_postmaster_start_time()')} AS "databaseUpSince"
      FROM (SELECT count(*)::int AS n, min(window_start) AS oldest
            FROM (SELECT window_start FROM aggregation_dirty_windows LIMIT 100000) x) p
      LEFT JOIN LATERAL (
        SELECT run_started_at,
               CASE WHEN bool_or(outcome = 'error') THEN 'error' WHEN bool_or(outcome = 'fail') THEN 'fail'
                    WHEN bool_or(outcome = 'warn') THEN 'warn' ELSE 'pass' END AS outcome
        FROM dq_check_results
        WHERE (run_started_at, run_id) = (SELECT run_started_at, run_id FROM dq_check_results
                                          ORDER BY run_started_at DESC, run_id DESC LIMIT 1)
        GROUP BY run_started_at
      ) d ON true`);
    if (!row) throw new Error('health query returned no row');
    return row;
  }

  async changes(since: string | undefined, limit: number): Promise<ChangeSet> {
    // The cursor first: a transaction still running now has an id at or above it, so whatever it
    // commits after this point is in the next poll's reply (at the price of some repeats).
    const [snapshot] = await this.rows<{ cursor: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS cursor',
    );
    const cursor = snapshot?.cursor ?? '0';
    if (since === undefined) return { cursor, sensors: [], alerts: [], dqRuns: [] };
    const [sensors, alerts, dqRuns] = await Promise.all([
      this.rows<ChangeSet['sensors'][number]>(
        `SELECT sensor_id AS "sensorId", ${iso('event_time')} AS "lastSeen", value, high_alert AS "highAlert",
                low_alert AS "lowAlert"
         FROM sensor_latest WHERE change_xid >= $1::xid8 ORDER BY sensor_id LIMIT $2`,
        [since, limit],
      ),
      this.rows<AlertSummary>(
        `SELECT ${ALERT_COLUMNS} FROM alerts WHERE change_xid >= $1::xid8 ORDER BY alert_id LIMIT $2`,
        [since, limit],
      ),
      this.rows<DqRunRow>(DQ_RUNS_CHANGED, [since, limit]),
    ]);
    return { cursor, sensors, alerts, dqRuns: dqRuns.map(({ startedAtKey: _k, ...r }) => r) };
  }
}
