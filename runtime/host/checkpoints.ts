/**
 * Durable Kinesis checkpoints: per (stream incarnation, shard, function) the last sequence
 * number up to which every record has been acknowledged (handled, or handed to the on-failure
 * destination). A restarted host resumes AFTER that number, so nothing is skipped; records
 * acknowledged out of order beyond it are delivered again, which the handlers' idempotent
 * writes absorb (at-least-once delivery, exactly-once effect, as on AWS).
 *
 * They live in PostgreSQL, in a schema the runtime owns (`iot_runtime`), not in the product's
 * migrations: the table is an implementation detail of the embedded host (on AWS the event
 * source mapping keeps its own). The stream's creation time is part of the key, so a
 * recreated stream (kinesalite started empty) never resumes from a stale position.
 */
import pg from 'pg';

export interface CheckpointKey {
  readonly streamName: string;
  /** ISO time the stream was created; distinguishes a recreated stream of the same name. */
  readonly streamCreatedAt: string;
  readonly shardId: string;
  readonly functionName: string;
}

export interface CheckpointStore {
  load(key: CheckpointKey): Promise<string | undefined>;
  /** Advances the checkpoint; never moves it backwards. */
  save(key: CheckpointKey, sequenceNumber: string): Promise<void>;
  close(): Promise<void>;
}

const DDL = `
CREATE SCHEMA IF NOT EXISTS iot_runtime;
CREATE TABLE IF NOT EXISTS iot_runtime.kinesis_checkpoints (
  stream_name       text        NOT NULL,
  stream_created_at text        NOT NULL,
  shard_id          text        NOT NULL,
  function_name     text        NOT NULL,
  sequence_number   numeric NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_name, stream_created_at, shard_id, function_name)
);`;

/** Advisory lock key so two hosts creating the schema at once do not collide. */
const DDL_LOCK = 0x10f1_57;

export class PostgresCheckpointStore implements CheckpointStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(databaseUrl: string): Promise<PostgresCheckpointStore> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'iot-first-runtime' });
    // An idle client losing its server must not crash the host; the next save reconnects.
    pool.on('error', () => undefined);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
      await client.query(DDL);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      await pool.end();
      throw error;
    }
    client.release();
    return new PostgresCheckpointStore(pool);
  }

  async load(key: CheckpointKey): Promise<string | undefined> {
    const out = await this.pool.query<{ sequence_number: string }>(
      `SELECT sequence_number::text AS sequence_number FROM iot_runtime.kinesis_checkpoints
        WHERE stream_name = $1 AND stream_created_at = $2 AND shard_id = $3 AND function_name = $4`,
      [key.streamName, key.streamCreatedAt, key.shardId, key.functionName],
    );
    return out.rows[0]?.sequence_number;
  }

  async save(key: CheckpointKey, sequenceNumber: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO iot_runtime.kinesis_checkpoints AS c (stream_name, stream_created_at, shard_id, function_name, sequence_number)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (stream_name, stream_created_at, shard_id, function_name)
       DO UPDATE SET sequence_number = EXCLUDED.sequence_number, updated_at = now()
       WHERE c.sequence_number < EXCLUDED.sequence_number`,
      [key.streamName, key.streamCreatedAt, key.shardId, key.functionName, sequenceNumber],
    );
  }

  /** Forgets every checkpoint (`npm start --fresh` against an existing database). */
  async clear(): Promise<void> {
    await this.pool.query('TRUNCATE iot_runtime.kinesis_checkpoints');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
