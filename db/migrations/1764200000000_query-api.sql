-- Up Migration

-- The query API's tables (issue 10): the latest state per sensor kept on the write path, reading
-- alerts and their evaluation state, the aggregator's heartbeat, API tokens, and the `iot_api`
-- role that reads everything and writes only its tokens.

-- Latest valid reading per sensor, kept up to date by a statement trigger on sensor_readings, so
-- the fleet endpoint reads one row per sensor instead of a DISTINCT ON over every reading (whose
-- cost grows with the table). change_xid is the writing transaction, for /api/changes.
-- fillfactor leaves room for HOT updates: only the key is indexed, so each batch's update of a
-- sensor's row stays on its page.
CREATE TABLE sensor_latest (
  sensor_id        text             PRIMARY KEY,
  sensor_type      text             NOT NULL,
  unit             text             NOT NULL,
  manufacturer     text             NOT NULL,
  model            text             NOT NULL,
  status           text             NOT NULL,
  value            double precision NOT NULL,
  min              double precision NOT NULL,
  max              double precision NOT NULL,
  normalized_value double precision NOT NULL,
  high_alert       boolean          NOT NULL,
  low_alert        boolean          NOT NULL,
  event_time       timestamptz      NOT NULL,
  processing_time  timestamptz      NOT NULL,
  change_xid       xid8             NOT NULL DEFAULT pg_current_xact_id()
) WITH (fillfactor = 70);

-- One statement per batch (COPY or INSERT … SELECT), so one upsert per batch: the newest reading
-- of each sensor in the batch replaces the stored one only when it is newer (a late reading
-- leaves the latest state alone). Sorted like the dirty-window trigger, so concurrent batches
-- lock rows in the same order.
CREATE FUNCTION track_sensor_latest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sensor_latest AS l (
    sensor_id, sensor_type, unit, manufacturer, model, status, value, min, max, normalized_value,
    high_alert, low_alert, event_time, processing_time)
  SELECT * FROM (
    SELECT DISTINCT ON (sensor_id)
      sensor_id, sensor_type, unit, manufacturer, model, status, value, min, max, normalized_value,
      high_alert, low_alert, event_time, processing_time
    FROM new_readings
    ORDER BY sensor_id, event_time DESC, processing_time DESC
  ) newest
  ORDER BY 1
  ON CONFLICT (sensor_id) DO UPDATE SET
    sensor_type = EXCLUDED.sensor_type, unit = EXCLUDED.unit, manufacturer = EXCLUDED.manufacturer,
    model = EXCLUDED.model, status = EXCLUDED.status, value = EXCLUDED.value, min = EXCLUDED.min,
    max = EXCLUDED.max, normalized_value = EXCLUDED.normalized_value, high_alert = EXCLUDED.high_alert,
    low_alert = EXCLUDED.low_alert, event_time = EXCLUDED.event_time,
    processing_time = EXCLUDED.processing_time, change_xid = pg_current_xact_id()
  WHERE EXCLUDED.event_time > l.event_time;
  RETURN NULL;
END;
$$;

CREATE TRIGGER sensor_readings_track_latest
AFTER INSERT ON sensor_readings
REFERENCING NEW TABLE AS new_readings
FOR EACH STATEMENT EXECUTE FUNCTION track_sensor_latest();

-- Readings stored before this migration.
INSERT INTO sensor_latest (
  sensor_id, sensor_type, unit, manufacturer, model, status, value, min, max, normalized_value,
  high_alert, low_alert, event_time, processing_time)
SELECT DISTINCT ON (sensor_id)
  sensor_id, sensor_type, unit, manufacturer, model, status, value, min, max, normalized_value,
  high_alert, low_alert, event_time, processing_time
FROM sensor_readings
ORDER BY sensor_id, event_time DESC, processing_time DESC;

-- Per-sensor rejected-record counts over the last hour (fleet endpoint) seek by sensor and time;
-- /api/errors pages newest first by time. Both are paid by the drainer's path only.
CREATE INDEX sensor_errors_sensor_time_idx ON sensor_errors (sensor_id, error_time) WHERE sensor_id IS NOT NULL;
CREATE INDEX sensor_errors_error_time_idx ON sensor_errors (error_time);

-- Reading alerts. An alert opens when a sensor's readings, in event-time order, stay at or above
-- its high-alert level (high_alert) or at or below its low-alert level (low_alert) for N
-- consecutive readings, and closes at the first reading back inside both levels. opened_at is the
-- event time of the N-th reading, closed_at that of the first reading back; opening_readings are
-- the N readings that opened it. change_xid serves /api/changes.
CREATE TABLE alerts (
  alert_id          bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sensor_id         text             NOT NULL,
  kind              text             NOT NULL CHECK (kind IN ('high', 'low')),
  opened_at         timestamptz      NOT NULL,
  closed_at         timestamptz,
  opening_readings  jsonb            NOT NULL,
  peak_value        double precision NOT NULL,
  reading_count     integer          NOT NULL CHECK (reading_count > 0),
  recorded_at       timestamptz      NOT NULL DEFAULT now(),
  closed_recorded_at timestamptz,
  change_xid        xid8             NOT NULL DEFAULT pg_current_xact_id(),
  CONSTRAINT alerts_close_check CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
-- At most one open alert per sensor: a second open is impossible, not merely unlikely.
CREATE UNIQUE INDEX alerts_one_open_per_sensor ON alerts (sensor_id) WHERE closed_at IS NULL;
CREATE INDEX alerts_sensor_opened_idx ON alerts (sensor_id, opened_at);
CREATE INDEX alerts_change_xid_idx ON alerts (change_xid);

-- Where alert evaluation stands per sensor: the last reading it consumed (event time, then stream
-- position as the tie-break) and the current run of alert-level readings. A reading at or before
-- that point arrives late for alerting: it counts in its window but cannot reopen or reclose an
-- alert (see evaluate_reading_alerts).
CREATE TABLE alert_state (
  sensor_id      text        PRIMARY KEY,
  last_event_time timestamptz NOT NULL,
  last_position  text        NOT NULL,
  run_kind       text        CHECK (run_kind IN ('high', 'low')),
  run_readings   jsonb       NOT NULL DEFAULT '[]'::jsonb,
  open_alert_id  bigint      REFERENCES alerts (alert_id)
);

-- Consumes the readings of the given sensors that are newer than their alert state, in
-- event-time order, and opens or closes alerts. Called by the aggregator in the transaction that
-- recomputes those sensors' marked windows: every reading marks its window, and marks are claimed
-- exactly once, so every committed reading reaches this function (its sensor is evaluated in
-- the run that claims its window). Duplicates never reach sensor_readings (unique keys); a late
-- reading (older than the state's last reading) is skipped, so neither can open or close an alert
-- a second time. Returns the alerts it opened or closed.
CREATE FUNCTION evaluate_reading_alerts(sensor_ids text[], consecutive integer)
RETURNS TABLE (alert_id bigint, sensor_id text, kind text, change text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  sid text;
  st alert_state%ROWTYPE;
  r record;
  level text;
  reading jsonb;
  new_id bigint;
BEGIN
  FOREACH sid IN ARRAY (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(sensor_ids) s) LOOP
    SELECT * INTO st FROM alert_state a WHERE a.sensor_id = sid FOR UPDATE;
    IF NOT FOUND THEN
      st.sensor_id := sid;
      st.last_event_time := '-infinity';
      st.last_position := '';
      st.run_kind := NULL;
      st.run_readings := '[]'::jsonb;
      st.open_alert_id := NULL;
    END IF;
    FOR r IN
      SELECT x.event_time, x.value, x.high_alert, x.low_alert,
             x.shard_id || '/' || x.sequence_number AS position
      FROM sensor_readings x
      WHERE x.sensor_id = sid
        AND (x.event_time > st.last_event_time
             OR (x.event_time = st.last_event_time AND x.shard_id || '/' || x.sequence_number > st.last_position))
      ORDER BY x.event_time, x.shard_id || '/' || x.sequence_number
    LOOP
      level := CASE WHEN r.high_alert THEN 'high' WHEN r.low_alert THEN 'low' END;
      st.last_event_time := r.event_time;
      st.last_position := r.position;
      -- The common case: a reading inside both levels, no run and no open alert.
      CONTINUE WHEN level IS NULL AND st.run_kind IS NULL AND st.open_alert_id IS NULL;
      reading := jsonb_build_object('event_time', r.event_time, 'value', r.value, 'position', r.position);
      IF st.open_alert_id IS NOT NULL AND level IS DISTINCT FROM st.run_kind THEN
        UPDATE alerts a SET closed_at = r.event_time, closed_recorded_at = now(), change_xid = pg_current_xact_id()
        WHERE a.alert_id = st.open_alert_id;
        alert_id := st.open_alert_id; sensor_id := sid; kind := st.run_kind; change := 'closed';
        RETURN NEXT;
        st.open_alert_id := NULL;
      END IF;
      IF level IS NULL THEN
        st.run_kind := NULL;
        st.run_readings := '[]'::jsonb;
      ELSIF level IS DISTINCT FROM st.run_kind THEN
        st.run_kind := level;
        st.run_readings := jsonb_build_array(reading);
      ELSIF st.open_alert_id IS NOT NULL THEN
        UPDATE alerts a SET reading_count = a.reading_count + 1,
          peak_value = CASE WHEN level = 'high' THEN greatest(a.peak_value, r.value) ELSE least(a.peak_value, r.value) END
        WHERE a.alert_id = st.open_alert_id;
      ELSE
        st.run_readings := st.run_readings || reading;
      END IF;
      IF level IS NOT NULL AND st.open_alert_id IS NULL AND jsonb_array_length(st.run_readings) >= consecutive THEN
        INSERT INTO alerts (sensor_id, kind, opened_at, opening_readings, peak_value, reading_count)
        SELECT sid, level, r.event_time, st.run_readings,
               CASE WHEN level = 'high' THEN max((e->>'value')::float8) ELSE min((e->>'value')::float8) END,
               jsonb_array_length(st.run_readings)
        FROM jsonb_array_elements(st.run_readings) e
        RETURNING alerts.alert_id INTO new_id;
        st.open_alert_id := new_id;
        st.run_readings := '[]'::jsonb;
        alert_id := new_id; sensor_id := sid; kind := level; change := 'opened';
        RETURN NEXT;
      END IF;
    END LOOP;
    INSERT INTO alert_state AS a VALUES (st.sensor_id, st.last_event_time, st.last_position, st.run_kind,
      st.run_readings, st.open_alert_id)
    ON CONFLICT ON CONSTRAINT alert_state_pkey DO UPDATE SET
      last_event_time = EXCLUDED.last_event_time, last_position = EXCLUDED.last_position,
      run_kind = EXCLUDED.run_kind, run_readings = EXCLUDED.run_readings, open_alert_id = EXCLUDED.open_alert_id;
  END LOOP;
END;
$$;

-- Per-sensor activity over the last hour (valid readings by the windows' event time, rejections by
-- error time), refreshed by the aggregator at the end of every run with one set-based statement
-- whose cost follows the last hour's volume. The fleet endpoint reads one row per sensor here
-- instead of summing 60 windows per sensor per request (measured: 0.7 ms per sensor, seconds for
-- a fleet of 10,000). Written only by the aggregator, so it never contends with ingest.
CREATE TABLE sensor_activity (
  sensor_id          text        PRIMARY KEY,
  valid_last_hour    integer     NOT NULL,
  rejected_last_hour integer     NOT NULL,
  computed_at        timestamptz NOT NULL
);

-- When each scheduled component last finished a run, for /api/health's "is it late?".
CREATE TABLE pipeline_heartbeats (
  component   text        PRIMARY KEY,
  last_run_at timestamptz NOT NULL,
  detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);

-- /api/changes reports new data-quality runs by writing transaction, like the other tables.
ALTER TABLE dq_check_results ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX dq_check_results_change_xid_idx ON dq_check_results (change_xid);
-- /api/dq/runs pages runs newest first.
CREATE INDEX dq_check_results_run_idx ON dq_check_results (run_started_at, run_id);

-- API bearer tokens, stored as SHA-256 hashes of the token (tokens are 256-bit random strings,
-- so an unsalted fast hash is enough: there is nothing to guess). prefix is the token's first
-- characters, shown by `npm run token -- list` to tell tokens apart.
CREATE TABLE api_tokens (
  token_id     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 128),
  token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
  prefix       text        NOT NULL,
  scope        text        NOT NULL CHECK (scope IN ('read', 'admin')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz
);
CREATE UNIQUE INDEX api_tokens_active_name_key ON api_tokens (name) WHERE revoked_at IS NULL;

-- Grants. The aggregator now also evaluates alerts and records its heartbeat; ingest keeps the
-- latest state through its trigger; the API reads everything and writes only its token table.
DO $$
BEGIN
  CREATE ROLE iot_api NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;

GRANT SELECT, INSERT, UPDATE ON sensor_latest TO iot_ingest;
GRANT SELECT, INSERT, UPDATE ON alerts, alert_state, pipeline_heartbeats TO iot_aggregation;
GRANT SELECT, INSERT, UPDATE, DELETE ON sensor_activity TO iot_aggregation;
GRANT SELECT ON sensor_errors TO iot_aggregation;
GRANT SELECT ON sensor_latest, alerts, pipeline_heartbeats, sensor_activity TO iot_readonly, iot_dq;
GRANT SELECT ON sensor_readings, sensor_errors, sensor_aggregations, sensor_latest, alerts, sensor_activity,
  aggregation_dirty_windows, dq_check_results, pipeline_heartbeats TO iot_api;
GRANT SELECT, INSERT, UPDATE (revoked_at, last_used_at) ON api_tokens TO iot_api;

-- Down Migration

DROP TABLE IF EXISTS api_tokens, sensor_activity, pipeline_heartbeats, alert_state, alerts, sensor_latest;
DROP FUNCTION IF EXISTS evaluate_reading_alerts(text[], integer);
DROP TRIGGER IF EXISTS sensor_readings_track_latest ON sensor_readings;
DROP FUNCTION IF EXISTS track_sensor_latest();
DROP INDEX IF EXISTS sensor_errors_sensor_time_idx, sensor_errors_error_time_idx;
ALTER TABLE dq_check_results DROP COLUMN IF EXISTS change_xid;
