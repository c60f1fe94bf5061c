-- Up Migration

-- The aggregator claims marks with SELECT … FOR UPDATE, which PostgreSQL allows only with the
-- UPDATE privilege; without it the deployed function (a member of iot_aggregation) could not
-- run at all. test/integration/database-roles.test.ts runs every use case as its duty role.
GRANT UPDATE ON aggregation_dirty_windows TO iot_aggregation;

-- Bounded descriptive fields. Unbounded, a single reading with a multi-kilobyte unit overflowed
-- the covering index's row limit (54000) and failed the write of its whole batch. The validator
-- enforces the same limits (src/domain/reading.ts), so such a reading is a SCHEMA_ERROR.
ALTER TABLE sensor_readings
  ADD CONSTRAINT sensor_readings_text_length_check CHECK (
    char_length(unit) <= 32 AND char_length(manufacturer) <= 128 AND char_length(model) <= 128);

-- Down Migration

ALTER TABLE sensor_readings DROP CONSTRAINT IF EXISTS sensor_readings_text_length_check;
REVOKE UPDATE ON aggregation_dirty_windows FROM iot_aggregation;
