-- Up Migration

-- One row per check per data-quality run (lambdas/dq). The history answers "since when has this
-- check been failing?" and feeds dashboards; the CloudWatch alarm works from the run's metrics.
-- run_id is the scheduler's event id, so a retried invocation of the same run overwrites its own
-- rows instead of adding a second copy of the run.
CREATE TABLE dq_check_results (
  run_id       text             NOT NULL,
  check_file   text             NOT NULL,
  check_line   integer          NOT NULL CHECK (check_line > 0),
  check_name   text             NOT NULL,
  table_name   text,
  metric       text             NOT NULL,
  metric_value double precision,
  outcome      text             NOT NULL CHECK (outcome IN ('pass', 'warn', 'fail', 'error')),
  thresholds   text             NOT NULL,
  diagnostics  jsonb            NOT NULL DEFAULT '{}'::jsonb,
  error        text,
  run_started_at timestamptz    NOT NULL,
  checked_at   timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT dq_check_results_pkey PRIMARY KEY (run_id, check_file, check_line),
  CONSTRAINT dq_check_results_error_check CHECK ((outcome = 'error') = (error IS NOT NULL))
);

-- "Latest result of each check" and time-range dashboards read by time.
CREATE INDEX dq_check_results_checked_at_idx ON dq_check_results (checked_at);

-- The data-quality function reads everything and writes only its results. Roles are
-- cluster-wide, so creation tolerates another database having created it first.
DO $$
BEGIN
  CREATE ROLE iot_dq NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;

GRANT SELECT ON sensor_readings, sensor_errors, sensor_aggregations, aggregation_dirty_windows,
  latest_sensor_status, hourly_sensor_summary, dq_error_rate TO iot_dq;
GRANT SELECT, INSERT, UPDATE ON dq_check_results TO iot_dq;
GRANT SELECT ON dq_check_results TO iot_readonly;

-- Down Migration

DROP TABLE IF EXISTS dq_check_results;
