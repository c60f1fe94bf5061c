-- Up Migration

-- Valid readings. The natural key is the stream position: a Kinesis record redelivered by a
-- retrying event source lands on the same (stream, shard, sequence) and adds nothing.
CREATE TABLE sensor_readings (
  reading_id       uuid,
  sensor_id        text             NOT NULL CHECK (char_length(sensor_id) BETWEEN 1 AND 128),
  sensor_type      text             NOT NULL CHECK (sensor_type IN ('temperature', 'humidity', 'pressure')),
  value            double precision NOT NULL,
  unit             text             NOT NULL,
  manufacturer     text             NOT NULL,
  model            text             NOT NULL,
  min              double precision NOT NULL,
  max              double precision NOT NULL,
  status           text             NOT NULL,
  event_time       timestamptz      NOT NULL,
  normalized_value double precision NOT NULL CHECK (normalized_value BETWEEN 0 AND 1),
  high_alert       boolean          NOT NULL,
  low_alert        boolean          NOT NULL,
  processing_time  timestamptz      NOT NULL,
  stream_name      text             NOT NULL,
  shard_id         text             NOT NULL,
  sequence_number  text             NOT NULL,
  partition_key    text             NOT NULL,
  arrival_time     timestamptz      NOT NULL,
  CONSTRAINT sensor_readings_pkey PRIMARY KEY (stream_name, shard_id, sequence_number),
  CONSTRAINT sensor_readings_range_check CHECK (min < max AND value BETWEEN min AND max)
);

-- A producer that retries PutRecords sends the same reading_id at a new stream position.
CREATE UNIQUE INDEX sensor_readings_reading_id_key ON sensor_readings (reading_id) WHERE reading_id IS NOT NULL;
-- The aggregator's window recomputation and latest_sensor_status both seek by sensor, then time.
CREATE INDEX sensor_readings_sensor_time_idx ON sensor_readings (sensor_id, event_time);
-- Hour-bucketed views and freshness scan by time; rows arrive nearly in time order, so BRIN
-- costs almost nothing on the ingest path.
CREATE INDEX sensor_readings_event_time_brin ON sensor_readings USING brin (event_time);
CREATE INDEX sensor_readings_processing_time_brin ON sensor_readings USING brin (processing_time);

-- Every rejected record, with the reason and the exact bytes (up to the payload cap).
CREATE TABLE sensor_errors (
  error_type      text        NOT NULL CHECK (error_type IN (
                    'PAYLOAD_TOO_LARGE', 'JSON_PARSE_ERROR', 'SCHEMA_ERROR', 'INACTIVE_SENSOR',
                    'NULL_VALUE', 'BELOW_MIN', 'ABOVE_MAX', 'PROCESSING_FAILURE')),
  error_message   text        NOT NULL,
  raw_value       text,
  raw_bytes       bytea,
  raw_size        integer     NOT NULL CHECK (raw_size >= 0),
  sensor_id       text,
  reading_id      uuid,
  stream_name     text        NOT NULL,
  shard_id        text        NOT NULL,
  sequence_number text        NOT NULL,
  partition_key   text,
  arrival_time    timestamptz,
  error_time      timestamptz NOT NULL,
  CONSTRAINT sensor_errors_pkey PRIMARY KEY (stream_name, shard_id, sequence_number)
);

CREATE UNIQUE INDEX sensor_errors_reading_id_key ON sensor_errors (reading_id) WHERE reading_id IS NOT NULL;
CREATE INDEX sensor_errors_error_time_brin ON sensor_errors USING brin (error_time);

-- 1-minute windows of event time, [window_start, window_start + 1 minute).
CREATE TABLE sensor_aggregations (
  sensor_id        text             NOT NULL,
  window_start     timestamptz      NOT NULL,
  window_end       timestamptz      NOT NULL,
  sensor_type      text             NOT NULL,
  unit             text             NOT NULL,
  reading_count    integer          NOT NULL CHECK (reading_count > 0),
  avg_value        double precision NOT NULL,
  min_value        double precision NOT NULL,
  max_value        double precision NOT NULL,
  stddev_value     double precision,
  high_alert_count integer          NOT NULL CHECK (high_alert_count >= 0),
  low_alert_count  integer          NOT NULL CHECK (low_alert_count >= 0),
  updated_at       timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT sensor_aggregations_pkey PRIMARY KEY (sensor_id, window_start),
  CONSTRAINT sensor_aggregations_window_check CHECK (window_end = window_start + interval '1 minute')
);

-- Windows that received readings since the aggregator last claimed them. Rows are written by
-- the trigger below in the same transaction as the readings, so a reading can never commit
-- without its window being marked; the aggregator deletes the marks it recomputes. See
-- src/adapters/postgres/aggregation-store.ts for why this, unlike a watermark, misses no
-- concurrently committed reading.
CREATE TABLE aggregation_dirty_windows (
  sensor_id    text        NOT NULL,
  window_start timestamptz NOT NULL,
  marks        bigint      NOT NULL DEFAULT 1,
  CONSTRAINT aggregation_dirty_windows_pkey PRIMARY KEY (sensor_id, window_start)
);

CREATE FUNCTION mark_dirty_windows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- DO UPDATE (not DO NOTHING) takes a row lock on an existing mark, so an aggregator claiming
  -- that mark waits for this transaction and then sees its readings. Sorted to keep lock order
  -- identical across concurrent writers (no deadlocks).
  INSERT INTO aggregation_dirty_windows AS d (sensor_id, window_start)
  SELECT DISTINCT sensor_id, date_trunc('minute', event_time, 'UTC')
  FROM new_readings
  ORDER BY 1, 2
  ON CONFLICT (sensor_id, window_start) DO UPDATE SET marks = d.marks + 1;
  RETURN NULL;
END;
$$;

CREATE TRIGGER sensor_readings_mark_dirty_windows
AFTER INSERT ON sensor_readings
REFERENCING NEW TABLE AS new_readings
FOR EACH STATEMENT EXECUTE FUNCTION mark_dirty_windows();

-- Last reading per sensor (DISTINCT ON walks sensor_readings_sensor_time_idx backwards).
CREATE VIEW latest_sensor_status AS
SELECT DISTINCT ON (sensor_id)
  sensor_id, sensor_type, status, value, unit, normalized_value, high_alert, low_alert,
  event_time, processing_time
FROM sensor_readings
ORDER BY sensor_id, event_time DESC, processing_time DESC;

CREATE VIEW hourly_sensor_summary AS
SELECT
  sensor_id,
  date_trunc('hour', event_time, 'UTC') AS hour_start,
  min(sensor_type)                       AS sensor_type,
  min(unit)                              AS unit,
  count(*)                               AS reading_count,
  avg(value)                             AS avg_value,
  min(value)                             AS min_value,
  max(value)                             AS max_value,
  stddev_samp(value)                     AS stddev_value,
  count(*) FILTER (WHERE high_alert)     AS high_alert_count,
  count(*) FILTER (WHERE low_alert)      AS low_alert_count
FROM sensor_readings
GROUP BY sensor_id, date_trunc('hour', event_time, 'UTC');

-- Valid vs rejected records per processing hour: one row per error type seen that hour, plus an
-- 'ALL' row per hour (present even when nothing was rejected) whose error_rate is the share of
-- all that hour's records that were rejected.
CREATE VIEW dq_error_rate AS
WITH records AS (
  SELECT date_trunc('hour', processing_time, 'UTC') AS hour_start, NULL::text AS error_type
  FROM sensor_readings
  UNION ALL
  SELECT date_trunc('hour', error_time, 'UTC'), error_type
  FROM sensor_errors
), hours AS (
  SELECT hour_start,
         count(*) FILTER (WHERE error_type IS NULL) AS valid_count,
         count(*)                                   AS total_count
  FROM records GROUP BY hour_start
), by_type AS (
  SELECT hour_start,
         CASE WHEN grouping(error_type) = 1 THEN 'ALL' ELSE error_type END AS error_type,
         count(*) AS error_count
  FROM records WHERE error_type IS NOT NULL
  GROUP BY GROUPING SETS ((hour_start, error_type), (hour_start))
)
SELECT h.hour_start,
       coalesce(b.error_type, 'ALL')                                  AS error_type,
       coalesce(b.error_count, 0)                                     AS error_count,
       h.valid_count,
       h.total_count,
       round(coalesce(b.error_count, 0)::numeric / h.total_count, 4)  AS error_rate
FROM hours h
LEFT JOIN by_type b USING (hour_start);

-- Group roles, one per duty. Login users (one per function, created by the deploy) are made
-- members of these; nothing here can log in. Roles are cluster-wide, so creation tolerates
-- another database of the same cluster having created them first.
DO $$
DECLARE role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['iot_ingest', 'iot_aggregation', 'iot_readonly'] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END LOOP;
END
$$;

GRANT SELECT, INSERT ON sensor_readings, sensor_errors TO iot_ingest;
GRANT SELECT, INSERT, UPDATE ON aggregation_dirty_windows TO iot_ingest;
GRANT SELECT ON sensor_readings TO iot_aggregation;
GRANT SELECT, DELETE ON aggregation_dirty_windows TO iot_aggregation;
GRANT SELECT, INSERT, UPDATE ON sensor_aggregations TO iot_aggregation;
GRANT SELECT ON sensor_readings, sensor_errors, sensor_aggregations,
  latest_sensor_status, hourly_sensor_summary, dq_error_rate TO iot_readonly;

-- Down Migration

DROP VIEW IF EXISTS dq_error_rate, hourly_sensor_summary, latest_sensor_status;
DROP TABLE IF EXISTS aggregation_dirty_windows, sensor_aggregations, sensor_errors, sensor_readings;
DROP FUNCTION IF EXISTS mark_dirty_windows();
