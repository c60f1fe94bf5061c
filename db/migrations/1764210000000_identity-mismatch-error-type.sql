-- Up Migration

-- IDENTITY_MISMATCH (issue 11): a reading from an authenticated MQTT device whose sensor_id
-- names another device. The validator rejects it (src/domain/validation.ts); the drainer must
-- be able to land the rejection, so the error type joins the CHECK constraint. The original
-- constraint was declared inline, so PostgreSQL named it sensor_errors_error_type_check.
ALTER TABLE sensor_errors DROP CONSTRAINT sensor_errors_error_type_check;
ALTER TABLE sensor_errors ADD CONSTRAINT sensor_errors_error_type_check CHECK (error_type IN (
  'PAYLOAD_TOO_LARGE', 'JSON_PARSE_ERROR', 'IDENTITY_MISMATCH', 'SCHEMA_ERROR', 'INACTIVE_SENSOR',
  'NULL_VALUE', 'BELOW_MIN', 'ABOVE_MAX', 'PROCESSING_FAILURE'));

-- Down Migration

-- Rows of the new type would violate the old constraint, and rewriting them to another type
-- would lose their reason, so the down migration refuses while any exist.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM sensor_errors WHERE error_type = 'IDENTITY_MISMATCH') THEN
    RAISE EXCEPTION 'sensor_errors holds IDENTITY_MISMATCH rows; delete or archive them before migrating down';
  END IF;
END $$;
ALTER TABLE sensor_errors DROP CONSTRAINT sensor_errors_error_type_check;
ALTER TABLE sensor_errors ADD CONSTRAINT sensor_errors_error_type_check CHECK (error_type IN (
  'PAYLOAD_TOO_LARGE', 'JSON_PARSE_ERROR', 'SCHEMA_ERROR', 'INACTIVE_SENSOR',
  'NULL_VALUE', 'BELOW_MIN', 'ABOVE_MAX', 'PROCESSING_FAILURE'));
