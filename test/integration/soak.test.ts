/**
 * The soak harness's short run (soak/, `npm run soak`), so it cannot rot: about a minute of load
 * through every door (the producer Lambda, MQTT devices, Kafka when kcat is there, hostile records
 * on the stream) with a few faults on a fixed seed, then the verdict from the data. The run is the
 * real one: the stack in its own process on a state folder, PostgreSQL, kinesalite and fauxqs
 * stopped and started by the faults. The long runs are for the figures (README, Guarantees).
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '#soak/run.js';
import { kafkaSkipReason } from '../support/kafka-broker.js';

const kafkaSkip = kafkaSkipReason();
const FAULTS = ['kill-validator', 'pg-slow', 'queue-restart', 'hostile'] as const;

describe('soak, short run', () => {
  it('loses and duplicates nothing acknowledged under faults, and every fault really happened', async () => {
    if (kafkaSkip) console.warn(`[soak] the Kafka door is not fed: ${kafkaSkip}`);
    const lines: string[] = [];
    const report = await runSoak({
      minutes: 1,
      rate: 20,
      seed: 16,
      faults: FAULTS,
      kafka: !kafkaSkip,
      latencyTargetMs: 2_250,
      keepState: false,
      progress: (line) => lines.push(line),
    });
    const { verdict } = report;
    const context = JSON.stringify({ verdict, faults: report.faults, tail: lines.slice(-15) }, null, 1);
    // Every scheduled fault ran and left evidence (a victim killed, a lock held, a restart).
    expect(report.faults.map((f) => f.name).sort(), context).toEqual([...FAULTS].sort());
    expect(
      report.faults.filter((f) => !f.happened),
      context,
    ).toEqual([]);
    // Something went through the doors, and nothing acknowledged went missing or twice.
    expect(verdict.totals.acked, context).toBeGreaterThan(0);
    expect(verdict.doors.mqtt.acked, context).toBeGreaterThan(0);
    expect(verdict.doors.hostile.acked, context).toBeGreaterThan(0);
    if (!kafkaSkip) expect(verdict.doors.kafka.acked, context).toBeGreaterThan(0);
    expect(
      {
        lost: verdict.totals.lost,
        duplicated: verdict.totals.duplicated,
        unackedDuplicated: verdict.totals.unackedDuplicated,
        wrongOutcome: verdict.totals.wrongOutcome,
      },
      context,
    ).toEqual({ lost: 0, duplicated: 0, unackedDuplicated: 0, wrongOutcome: 0 });
    expect(verdict.windows.mismatched, context).toBe(0);
    expect(verdict.windows.reference, context).toBeGreaterThan(0);
    expect(
      verdict.deadLetters.filter((q) => q.unaccounted > 0),
      context,
    ).toEqual([]);
    // The calm readings' latency is split by door, and the split covers every one of them.
    const byDoor = Object.values(verdict.latency.byDoor);
    expect(
      byDoor.reduce((sum, d) => sum + d.sendToRow.samples, 0),
      context,
    ).toBe(verdict.latency.outsideFaults.samples);
    // Which doors had calm readings depends on how long the faults took to heal on this machine;
    // each door's acknowledged share is part of its landed one.
    for (const d of byDoor) expect(d.sendToAck.samples, context).toBeLessThanOrEqual(d.sendToRow.samples);
    expect(report.stop.graceful, context).toBe(true);
    expect(report.ok, context).toBe(true);
  }, 900_000);
});
