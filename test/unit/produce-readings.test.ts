/**
 * The producer's use case: its event contract, the start time it picks, and the result it
 * assembles from what the stream accepted. The stream here is a scripted StreamWriter, because
 * the real one (kinesalite, test/integration/producer.test.ts) never refuses an entry; the
 * writer's own retrying is proven in test/unit/stream-writer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { countOutcomes, simulate } from '#domain/fleet.js';
import type { OutgoingRecord, StreamWriter, WriteResult } from '#domain/ports.js';
import { InvalidProducerEventError, planProduction, produceReadings } from '#pipeline/produce-readings.js';

/** Accepts every record except those the predicate refuses, in one call. */
function scriptedWriter(refuse: (index: number) => boolean): StreamWriter & { written: OutgoingRecord[] } {
  const written: OutgoingRecord[] = [];
  return {
    written,
    async write<T extends OutgoingRecord>(records: readonly T[]): Promise<WriteResult<T>> {
      const failed = records.flatMap((record, i) =>
        refuse(i) ? [{ record, errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'slow down' }] : [],
      );
      written.push(...records.filter((_, i) => !refuse(i)));
      return { sent: records.length - failed.length, failed, calls: 1 };
    },
  };
}

describe('planProduction', () => {
  it('applies the defaults to an empty event and keeps what it was given', () => {
    const plan = planProduction(undefined, () => Date.parse('2026-05-01T12:00:00Z'));
    expect(plan).toMatchObject({ count: 100, sensors: 50, intervalMs: 2_000 });
    expect(Number.isInteger(plan.seed)).toBe(true);
    // 100 readings from 50 sensors are two rounds: the first is one interval before now.
    expect(plan.startTime).toBe('2026-05-01T11:59:58.000Z');
    const given = planProduction({ count: 7, sensors: 3, seed: 9, startTime: '2026-01-31T12:00:00Z' });
    expect(given).toMatchObject({ count: 7, sensors: 3, seed: 9, startTime: '2026-01-31T12:00:00Z' });
  });

  it('refuses a bad event naming every bad field, including a misspelt one', () => {
    const bad = { count: 100_001, sensorz: 3, seed: -1, startTime: '2026-03-01 10:00', intervalMs: 1.5 };
    expect(() => planProduction(bad)).toThrow(InvalidProducerEventError);
    const message = (() => {
      try {
        planProduction(bad);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    for (const field of ['count', 'sensorz', 'seed', 'startTime', 'intervalMs']) expect(message).toContain(field);
    expect(() => planProduction([])).toThrow(/Invalid producer event: \(event\)/);
  });
});

describe('produceReadings', () => {
  const plan = planProduction({ count: 40, sensors: 8, seed: 3, startTime: '2026-01-31T12:00:00Z' });

  it('sends the simulated fleet and expects the outcomes of exactly what the stream accepted', async () => {
    const writer = scriptedWriter((i) => i % 4 === 0);
    const result = await produceReadings(plan, { writer, streamName: 's1' });
    const simulated = simulate({ ...plan, startTime: new Date(plan.startTime) }).records;
    const refused = simulated.filter((_, i) => i % 4 === 0);
    expect(result).toMatchObject({ streamName: 's1', sent: 30, failed: 10, sensors: 8, seed: 3, count: 40 });
    expect(writer.written.map((r) => r.partitionKey)).toEqual(
      simulated.filter((_, i) => i % 4 !== 0).map((r) => r.partitionKey),
    );
    expect(result.expected).toEqual(countOutcomes(simulated.filter((_, i) => i % 4 !== 0)));
    expect(result.notSent).toEqual(countOutcomes(refused));
    expect(result.failedRecords.map((f) => f.readingId)).toEqual(refused.map((r) => r.readingId));
    expect(result.failedRecords[0]?.errorCode).toBe('ProvisionedThroughputExceededException');
    expect(result.putRecordsCalls).toBe(1);
  });

  it('lists at most 100 failed records one by one and counts the rest', async () => {
    const big = planProduction({ count: 150, sensors: 10, seed: 1, startTime: '2026-01-31T12:00:00Z' });
    const result = await produceReadings(big, { writer: scriptedWriter(() => true), streamName: 's1' });
    expect(result.failed).toBe(150);
    expect(result.failedRecords).toHaveLength(100);
    expect(Object.values(result.notSent).reduce((a, b) => a + b, 0)).toBe(150);
    expect(Object.values(result.expected).every((n) => n === 0)).toBe(true);
  });
});
