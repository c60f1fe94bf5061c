/**
 * `/api/health` right after a first start: the aggregator and the data-quality run have never
 * run, and that is not "late" until their limit has passed since the database started (before,
 * a fresh `npm start` showed both late). The database here is the suite's real PostgreSQL, up
 * for seconds or minutes: one server is given limits longer than that (never run → not late),
 * the other limits of one second (never run → late), so both cases hold whatever its age.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiTestServer, startApiTestServer } from '../support/api-server.js';

let patient: ApiTestServer;
let strict: ApiTestServer;

beforeAll(async () => {
  const day = String(24 * 3600);
  patient = await startApiTestServer('api_health_patient', {
    AGGREGATOR_LATE_AFTER_SECONDS: day,
    DQ_LATE_AFTER_SECONDS: day,
  });
  strict = await startApiTestServer('api_health_strict', {
    AGGREGATOR_LATE_AFTER_SECONDS: '1',
    DQ_LATE_AFTER_SECONDS: '1',
  });
});
afterAll(async () => {
  await patient?.close();
  await strict?.close();
});

async function health(api: ApiTestServer): Promise<{
  aggregator: { lastRunAt: string | null; late: boolean };
  dq: { lastRunAt: string | null; late: boolean };
}> {
  const response = await api.request('/api/health');
  expect(response.status).toBe(200);
  return response.json() as never;
}

describe('GET /api/health before any scheduled run', () => {
  it('does not call a job that never ran late while its limit since the database started has not passed', async () => {
    const reply = await health(patient);
    expect(reply.aggregator).toMatchObject({ lastRunAt: null, late: false });
    expect(reply.dq).toMatchObject({ lastRunAt: null, late: false });
  });

  it('calls it late once that limit has passed', async () => {
    const { rows } = await strict.db.query<{ age: number }>(
      'SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS age',
    );
    expect(rows[0]?.age).toBeGreaterThan(1);
    const reply = await health(strict);
    expect(reply.aggregator).toMatchObject({ lastRunAt: null, late: true });
    expect(reply.dq).toMatchObject({ lastRunAt: null, late: true });
  });
});
