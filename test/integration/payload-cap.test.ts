/**
 * The payload cap as deployed: the stack hands the topology's `payloadCapBytes` to the functions
 * as PAYLOAD_CAP_BYTES, and both the validator (reading the stream) and the drainer (turning
 * a failure notice back into rows) apply that value, not their built-in default (64 KiB). A
 * record of 3,000 bytes is within the default, so only a cap read from the environment makes it
 * PAYLOAD_TOO_LARGE with exactly 2,048 bytes kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aReading } from '../support/factories.js';
import {
  copyTopology,
  count,
  LOADED_MACHINE_BOUND_MS,
  putRecords,
  startTestStack,
  type TestStack,
  waitFor,
  waitUntilSettled,
  withFixtures,
} from '../support/runtime-stack.js';

const CAP = 2_048;

describe.each([
  { path: 'validator', fixture: undefined },
  // Every batch fails and is given up on: only the drainer, reading the stream for the notice, stores the rows.
  { path: 'drainer', fixture: 'test/fixtures/handlers/always-fails.ts' },
])('PAYLOAD_CAP_BYTES through the $path', { timeout: 3 * LOADED_MACHINE_BOUND_MS }, ({ path, fixture }) => {
  let stack: TestStack;
  beforeAll(async () => {
    const t = fixture ? withFixtures(copyTopology(), { validator: fixture }) : copyTopology();
    t.payloadCapBytes = CAP;
    const source = t.kinesisSources[0];
    if (source) Object.assign(source, { retryAttempts: 0, bisectBatchOnError: false });
    stack = await startTestStack({ topology: t, label: `cap_${path}`, host: { enable: { schedules: false } } });
  }, LOADED_MACHINE_BOUND_MS);
  afterAll(async () => stack?.close());

  it('rejects a record over the configured cap, keeping exactly the cap, and stores one under it', async () => {
    const big = Buffer.from(JSON.stringify({ ...aReading({ sensor_id: 'big-1' }), note: 'x'.repeat(3_000) }));
    expect(big.length).toBeGreaterThan(CAP);
    expect(big.length).toBeLessThan(64 * 1024);
    const small = aReading({ sensor_id: 'small-1' });
    await putRecords(stack, [
      { key: 'big-1', data: big },
      { key: 'small-1', data: small },
    ]);
    const landed = () =>
      count(stack.db, 'SELECT (SELECT count(*) FROM sensor_readings) + (SELECT count(*) FROM sensor_errors) AS n');
    await waitFor(landed, (n) => n >= 2, LOADED_MACHINE_BOUND_MS, 'both records');
    await waitUntilSettled(stack);
    const errors = await stack.db.query<{ error_type: string; kept: number }>(
      'SELECT error_type, length(raw_bytes) AS kept FROM sensor_errors',
    );
    expect(errors.rows).toEqual([{ error_type: 'PAYLOAD_TOO_LARGE', kept: CAP }]);
    expect(await count(stack.db, 'SELECT count(*) AS n FROM sensor_readings')).toBe(1);
  });
});
