/**
 * The schedules of the topology (aggregator every minute, dq every 5 minutes) as `npm start`
 * runs them with `--schedule-speedup` (every other test stack turns schedules off): with the
 * periods divided by 30, nothing but the schedules invokes the aggregator and the dq function,
 * and their effects appear: the windows of the readings sent, and the data-quality results of
 * more than one scheduled run.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createKinesisClient } from '#adapters/aws/clients.js';
import { topology } from '#topology.js';
import { createTestDatabase } from '../support/database.js';
import { aReading } from '../support/factories.js';
import { count, LOADED_MACHINE_BOUND_MS, spawnServe, waitFor } from '../support/runtime-stack.js';

const SPEED_UP = 30;

let stateDir: string;
let databaseUrl: string;
let db: pg.Pool;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-schedules-'));
  databaseUrl = await createTestDatabase('schedules');
  db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
});
afterAll(async () => {
  await db?.end();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

it(
  `--schedule-speedup ${SPEED_UP}: the aggregator and dq run on their schedules and their effects appear`,
  async () => {
    // The periods the speed-up divides: a test that waits on minutes would prove nothing here.
    expect(topology.schedules.map((s) => [s.function, s.everyMinutes])).toEqual([
      ['aggregator', 1],
      ['dq', 5],
    ]);
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl };
    for (const name of ['KINESIS_ENDPOINT', 'SQS_ENDPOINT', 'IOT_FIRST_STATE_DIR']) delete env[name];
    const serve = spawnServe(
      ['--state-dir', stateDir, '--kinesis-port', '0', '--sqs-port', '0', '--schedule-speedup', String(SPEED_UP)],
      env,
    );
    const endpoints = await serve.ready;
    try {
      const sensors = ['sched-a', 'sched-b', 'sched-c'];
      const readings = sensors.flatMap((sensor_id, s) =>
        [10, 20, 30].map((second) =>
          aReading({ sensor_id, value: 10 + s, timestamp: `2026-11-26T12:0${s}:${second}Z` }),
        ),
      );
      const kinesis = createKinesisClient({ region: endpoints.region, endpoint: endpoints.kinesisEndpoint });
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: endpoints.streamName,
          Records: readings.map((r) => ({ PartitionKey: String(r.sensor_id), Data: Buffer.from(JSON.stringify(r)) })),
        }),
      );
      kinesis.destroy();

      // Windows: one per sensor and minute, each holding its three readings.
      const windows = await waitFor(
        async () =>
          (
            await db.query<{ sensor_id: string; window_start: Date; reading_count: number; avg_value: number }>(
              'SELECT sensor_id, window_start, reading_count, avg_value FROM sensor_aggregations ORDER BY sensor_id',
            )
          ).rows,
        (rows) => rows.length === sensors.length && rows.every((r) => r.reading_count === 3),
        LOADED_MACHINE_BOUND_MS,
        'the scheduled aggregator to compute the windows',
      );
      expect(windows.map((w) => [w.sensor_id, w.window_start.toISOString(), w.avg_value])).toEqual(
        sensors.map((s, i) => [s, `2026-11-26T12:0${i}:00.000Z`, 10 + i]),
      );
      // Data quality: results of at least two scheduled runs, each with every check.
      const runs = await waitFor(
        async () =>
          (
            await db.query<{ run_id: string; n: number }>(
              'SELECT run_id, count(*)::int AS n FROM dq_check_results GROUP BY run_id',
            )
          ).rows,
        (rows) => rows.length >= 2,
        LOADED_MACHINE_BOUND_MS,
        'two scheduled data-quality runs',
      );
      expect(new Set(runs.map((r) => r.n)).size).toBe(1);
      expect(runs[0]?.n).toBeGreaterThan(10);
      expect(await count(db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(readings.length);
    } finally {
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toEqual({ code: 0, signal: null });
    }
  },
  4 * LOADED_MACHINE_BOUND_MS,
);
