/**
 * Which door a stream record came through, read from its Kinesis partition key (the doors'
 * agreement, docs/DESIGN.md section 10): a key that starts with `mqtt:` was written by the MQTT door (AWS IoT
 * Core's topic rule, or the local rule engine), and what follows is the identity of the device
 * that sent it, i.e. its certificate's thing name, which is its `sensor_id`. `kafka:` belongs to
 * the Kafka door. Any other key (the producer uses the bare sensor id) claims nothing.
 *
 * Why the partition key: it is the one field a topic rule can set per message (from the topic,
 * `${topic(3)}`) that travels with the record through Kinesis, the event source and the
 * failed-batch replay without touching the payload's bytes. Anyone who may call PutRecords on
 * the stream could write such a key; that is the stream's IAM boundary, the same one that lets
 * them write any reading at all.
 */

export const MQTT_PARTITION_KEY_PREFIX = 'mqtt:';
export const KAFKA_PARTITION_KEY_PREFIX = 'kafka:';

export type RecordOrigin =
  /** A device authenticated by the MQTT door; `identity` is its thing name. */
  | { readonly door: 'mqtt'; readonly identity: string }
  /** The Kafka door; its key format is that door's own (see its module). */
  | { readonly door: 'kafka'; readonly key: string }
  /** No door claimed the record (the producer Lambda, or any other writer). */
  | { readonly door: 'none' };

/**
 * Total: every partition key maps to one origin. An `mqtt:` key with nothing after it still is
 * an MQTT origin, with an empty identity, so a reading can never match it (fail closed).
 */
export function parseRecordOrigin(partitionKey: string | null): RecordOrigin {
  if (partitionKey === null) return { door: 'none' };
  if (partitionKey.startsWith(MQTT_PARTITION_KEY_PREFIX))
    return { door: 'mqtt', identity: partitionKey.slice(MQTT_PARTITION_KEY_PREFIX.length) };
  if (partitionKey.startsWith(KAFKA_PARTITION_KEY_PREFIX))
    return { door: 'kafka', key: partitionKey.slice(KAFKA_PARTITION_KEY_PREFIX.length) };
  return { door: 'none' };
}

/** The partition key the MQTT door writes for a device: the inverse of {@link parseRecordOrigin}. */
export function mqttPartitionKey(identity: string): string {
  return `${MQTT_PARTITION_KEY_PREFIX}${identity}`;
}

/** The authenticated sender's identity, when the record's door vouches for one. */
export function senderIdentity(origin: RecordOrigin): string | null {
  return origin.door === 'mqtt' ? origin.identity : null;
}

/**
 * AWS IoT thing names: 1 to 128 of `[a-zA-Z0-9:_-]` (IoT API reference, CreateThing). A device
 * id must be one, since the thing name is the sensor_id; it also keeps the MQTT topic free of
 * `+`, `#` and `/`, and the partition key within Kinesis' 256 characters.
 */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export function isThingName(s: string): boolean {
  return THING_NAME_PATTERN.test(s);
}
