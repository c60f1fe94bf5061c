-- Up Migration

-- The Kafka door (lambdas/kafka-bridge) forwards a Kafka record's value unchanged and carries
-- its origin in the Kinesis partition key: kafka:<topic>:<partition>:<offset>:<timestamp ms>
-- (src/domain/kafka-record.ts). Every row keeps that key, so the origin is recoverable for every
-- row, valid or not, as the original case stored Kafka's topic, partition, offset and timestamp.

-- One row per Kafka record. A record the bridge forwards twice (a batch redelivered after a
-- partial failure, a consumer restarted before its commit) reaches the stream at a new position,
-- and an invalid one has no reading_id to deduplicate it: its origin does. Partial, so the
-- producer's rows pay nothing; text_pattern_ops, so a lookup by origin prefix
-- (LIKE 'kafka:iot_sensor_data:0:42:%') uses it in any collation.
CREATE UNIQUE INDEX sensor_readings_kafka_origin_key
  ON sensor_readings (partition_key text_pattern_ops) WHERE partition_key LIKE 'kafka:%';
CREATE UNIQUE INDEX sensor_errors_kafka_origin_key
  ON sensor_errors (partition_key text_pattern_ops) WHERE partition_key LIKE 'kafka:%';

-- The origin a partition key carries; no row for any other key (the producer's bare sensor
-- ids, the MQTT door's keys, a malformed key), so a view over it never fails on odd input.
CREATE FUNCTION kafka_origin(partition_key text)
RETURNS TABLE (topic text, kafka_partition integer, kafka_offset bigint, kafka_timestamp timestamptz)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT m[1], m[2]::integer, m[3]::bigint, to_timestamp(m[4]::numeric / 1000)
  FROM regexp_match(partition_key, '^kafka:([A-Za-z0-9._~-]+):(\d{1,9}):(\d{1,18}):(-?\d{1,15})$') AS m
  WHERE m IS NOT NULL
$$;

-- Every row that came through the Kafka door, with its Kafka origin and its stream position
-- (the key of its row in sensor_readings or sensor_errors).
CREATE VIEW kafka_record_origins AS
SELECT 'reading'::text AS row_kind, r.stream_name, r.shard_id, r.sequence_number, r.sensor_id, r.reading_id,
       NULL::text AS error_type, o.topic, o.kafka_partition, o.kafka_offset, o.kafka_timestamp
FROM sensor_readings r CROSS JOIN LATERAL kafka_origin(r.partition_key) o
WHERE r.partition_key LIKE 'kafka:%'
UNION ALL
SELECT 'error'::text, e.stream_name, e.shard_id, e.sequence_number, e.sensor_id, e.reading_id,
       e.error_type, o.topic, o.kafka_partition, o.kafka_offset, o.kafka_timestamp
FROM sensor_errors e CROSS JOIN LATERAL kafka_origin(e.partition_key) o
WHERE e.partition_key LIKE 'kafka:%';

GRANT SELECT ON kafka_record_origins TO iot_readonly;

-- Down Migration

DROP VIEW IF EXISTS kafka_record_origins;
DROP FUNCTION IF EXISTS kafka_origin(text);
DROP INDEX IF EXISTS sensor_errors_kafka_origin_key;
DROP INDEX IF EXISTS sensor_readings_kafka_origin_key;
