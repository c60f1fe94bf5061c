/**
 * Reply sharing (`API_SHARE_REPLIES_MS`, src/adapters/http/app.ts): identical polls of a shared
 * route (fleet, changes, health) inside the window get one reply from one database statement;
 * the first request after the window runs the statement again and sees new data. Statements are
 * counted by wrapping the API pool's `query` on the real database (test/support/api-server.ts).
 *
 * The window here is 3 s rather than the default 1 s, so that a burst of concurrent requests on a
 * loaded machine still falls inside one window; the mechanism does not depend on the length.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReadings } from '../support/api-fixtures.js';
import { type ApiTestServer, startApiTestServer } from '../support/api-server.js';
import { LOADED_MACHINE_BOUND_MS, waitFor } from '../support/runtime-stack.js';

const WINDOW_MS = 3_000;
const FLEET_STATEMENT = 'SELECT l.* FROM sensor_latest l';

let api: ApiTestServer;
const statements: string[] = [];
const fleetStatements = () => statements.filter((s) => s.includes(FLEET_STATEMENT)).length;

beforeAll(async () => {
  api = await startApiTestServer(
    'api_share',
    { API_SHARE_REPLIES_MS: String(WINDOW_MS) },
    { onQuery: (text) => statements.push(text) },
  );
  await writeReadings(api.db, [{ sensor: 'share-1', at: new Date(Date.now() - 5_000).toISOString(), value: 20 }]);
});
afterAll(async () => {
  await api?.close();
});

async function fleetIds(path = '/api/sensors'): Promise<{ body: string; ids: string[] }> {
  const res = await api.request(path);
  expect(res.status).toBe(200);
  const body = await res.text();
  return { body, ids: (JSON.parse(body) as { sensors: { sensorId: string }[] }).sensors.map((s) => s.sensorId) };
}

describe('reply sharing', () => {
  it('answers concurrent identical requests with one statement, and runs it again after the window', async () => {
    const before = fleetStatements();
    const windowStart = Date.now();
    const burst = await Promise.all(Array.from({ length: 20 }, () => fleetIds()));
    const burstEnd = Date.now();
    expect(burstEnd - windowStart).toBeLessThan(WINDOW_MS); // else the premise of the test is gone
    expect(new Set(burst.map((r) => r.body)).size).toBe(1);
    expect(burst[0]?.ids).toEqual(['share-1']);
    expect(fleetStatements() - before).toBe(1);

    // A different query string is a different reply: its own statement.
    await fleetIds('/api/sensors?sort=lastSeen');
    expect(fleetStatements() - before).toBe(2);

    // New data inside the window: the shared reply does not show it yet, and costs no statement.
    await writeReadings(api.db, [{ sensor: 'share-2', at: new Date().toISOString(), value: 21 }]);
    const inside = await fleetIds();
    if (Date.now() - windowStart < WINDOW_MS) {
      expect(inside.ids).toEqual(['share-1']);
      expect(fleetStatements() - before).toBe(2);
    } else {
      console.warn('api-share-replies: the machine was too slow to ask again inside the window; that check skipped');
    }

    // After the window: the next request runs the statement again and sees the new sensor.
    const fresh = await waitFor(
      () => fleetIds(),
      (r) => r.ids.includes('share-2'),
      LOADED_MACHINE_BOUND_MS,
      'a fresh fleet reply after the window',
    );
    expect(Date.now() - windowStart).toBeGreaterThanOrEqual(WINDOW_MS);
    expect(fresh.ids).toEqual(['share-1', 'share-2']);
    expect(fleetStatements() - before).toBe(3);
  });

  it('does not share when API_SHARE_REPLIES_MS is 0', async () => {
    const counted: string[] = [];
    const unshared = await startApiTestServer(
      'api_share_off',
      { API_SHARE_REPLIES_MS: '0' },
      { onQuery: (t) => counted.push(t) },
    );
    try {
      const statuses = await Promise.all(
        Array.from({ length: 5 }, async () => (await unshared.request('/api/sensors')).status),
      );
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      expect(counted.filter((s) => s.includes(FLEET_STATEMENT))).toHaveLength(5);
    } finally {
      await unshared.close();
    }
  });
});
