-- Up Migration

-- Reading alerts published to the alert topic (issue 10). The aggregator opens and closes alerts
-- in the transaction that recomputes the windows; after that transaction commits it publishes
-- every event not published yet and then records it here, one mark per event (opened, closed).
-- A run that crashes or cannot reach the topic before recording leaves its events unmarked, and
-- the next run publishes them: at least once, never lost.
--
-- Why a mark per event rather than one cursor on change_xid (what /api/changes uses): a cursor
-- taken from the snapshot's xmin stays behind every transaction still running, and the
-- validator's ingest transactions are nearly always running, so the events of the last run
-- would be read, and published, again by the next one. A mark is exact; the partial index holds
-- only the events still to publish, so finding them costs nothing however many alerts there are.
ALTER TABLE alerts ADD COLUMN opened_published_at timestamptz;
ALTER TABLE alerts ADD COLUMN closed_published_at timestamptz;

-- Alerts recorded before this migration were announced by the local notifier of their time (and
-- on AWS by nothing): they are not published now, so a first deploy does not replay history.
UPDATE alerts SET opened_published_at = recorded_at,
  closed_published_at = CASE WHEN closed_at IS NOT NULL THEN coalesce(closed_recorded_at, recorded_at) END;

CREATE INDEX alerts_unpublished_idx ON alerts (alert_id)
  WHERE opened_published_at IS NULL OR (closed_at IS NOT NULL AND closed_published_at IS NULL);

-- Down Migration

DROP INDEX IF EXISTS alerts_unpublished_idx;
ALTER TABLE alerts DROP COLUMN IF EXISTS closed_published_at;
ALTER TABLE alerts DROP COLUMN IF EXISTS opened_published_at;
