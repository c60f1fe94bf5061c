/**
 * SQL fragments the PostgreSQL adapters share, so a reply's shape cannot drift between them.
 */

/** A timestamptz column as the API's ISO 8601 text (UTC, milliseconds), computed by the server. */
export const isoText = (col: string): string => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** An alert's columns as the API and the alert topic both name them. */
export const ALERT_COLUMNS = `alert_id::float8 AS "alertId", sensor_id AS "sensorId", kind, ${isoText('opened_at')} AS "openedAt",
  ${isoText('closed_at')} AS "closedAt", peak_value AS "peakValue", reading_count AS "readingCount"`;
