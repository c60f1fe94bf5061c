/**
 * The cost model's arithmetic against a case computed by hand (infra/cost/model.ts). Prices and
 * workload figures are fixed here, so a price update in prices.json does not move the test.
 */
import { describe, expect, it } from 'vitest';
import { loadPriceBook } from '#infra/cost/cli.js';
import { estimateCost, instanceFor, type PriceBook, shardsFor } from '#infra/cost/model.js';
import { stackShape } from '#infra/cost/shape.js';

const file = loadPriceBook();
const book: PriceBook = {
  ...file,
  prices: {
    ...file.prices,
    kinesisShardHour: { usd: 0.015, unit: 'shard-hour', confirmed: true },
    kinesisPutPayloadUnitsPerMillion: { usd: 0.014, unit: 'million units', confirmed: true },
    lambdaArmGbSecond: { usd: 0.0000133334, unit: 'GB-s', confirmed: true },
  },
  rdsInstances: [
    { class: 'small', usd: 0.02, vcpu: 2, maxReadingsPerSecond: 500 },
    { class: 'medium', usd: 0.065, vcpu: 2, maxReadingsPerSecond: 1500 },
    { class: 'large', usd: 0.2, vcpu: 4, maxReadingsPerSecond: 5000 },
  ],
  workload: {
    ...file.workload,
    readingBytes: 300,
    validatorCpuMsPer500: 4.7,
    validatorDatabaseMsPer500: 17.2,
    validatorFixedMs: 2,
    cpuReferenceMemoryMb: 1769,
  },
};

describe('cost model', () => {
  it('sizes shards at 80% of 1,000 records/s or 1 MiB/s, whichever binds', () => {
    expect(shardsFor(100, 300)).toBe(1);
    expect(shardsFor(800, 300)).toBe(1);
    expect(shardsFor(1000, 300)).toBe(2); // 1000 / 800 = 1.25
    expect(shardsFor(1000, 2000)).toBe(3); // 2,000,000 B/s / 838,860.8 = 2.38: bytes bind
    expect(shardsFor(10_000, 300)).toBe(13); // 12.5
    expect(shardsFor(0, 300)).toBe(1);
  });

  it('picks the smallest instance class that keeps up, the largest when none does', () => {
    expect(instanceFor(100, book.rdsInstances).class).toBe('small');
    expect(instanceFor(1000, book.rdsInstances).class).toBe('medium');
    expect(instanceFor(99_999, book.rdsInstances).class).toBe('large');
  });

  it('matches the hand-computed case: 1,000 readings/s, 37% rejected', () => {
    const e = estimateCost(stackShape(), book, { readingsPerSecond: 1000, rejectShare: 0.37 });
    const line = (item: string) => e.lines.find((l) => l.item === item)?.usd;
    // 2 shards × 730 h × $0.015
    expect(e.shards).toBe(2);
    expect(line('Kinesis shards')).toBeCloseTo(21.9, 6);
    // 1,000/s × 2,628,000 s = 2,628 M records, one 25 KB unit each, × $0.014 per million
    expect(line('Kinesis PUT payload units')).toBeCloseTo(36.792, 6);
    // Validator: 2 shards × PF 2 = 4 lanes polled once a second (1000/500 = 2 full batches < 4),
    // 250 records each: 2 + 0.5 × (4.7 × 1769/512 + 17.2) = 2 + 0.5 × 33.44 = 18.72 ms, billed 19 ms;
    // 4 × 2,628,000 = 10,512,000 invocations × 0.019 s × 0.5 GB = 99,864 GB-s.
    const validator = e.functions.find((f) => f.fn === 'validator');
    expect(validator).toMatchObject({ memoryMb: 512, invocations: 10_512_000, msPerInvocation: 19 });
    expect(validator?.gbSeconds).toBeCloseTo(99_864, 6);
    // The producer simulates devices: nothing in the topology triggers it, so nothing is billed.
    expect(e.functions.find((f) => f.fn === 'producer')?.invocations).toBe(0);
    // medium: $0.065 × 730 h
    expect(line('RDS medium')).toBeCloseTo(47.45, 6);
    expect(e.total).toBeCloseTo(
      e.lines.reduce((s, l) => s + l.usd, 0),
      9,
    );
    expect(e.dominant[0]?.usd).toBe(Math.max(...e.lines.map((l) => l.usd)));
  });

  it('doubles the instance for multi-AZ and bills the proxy per vCPU only when asked', () => {
    const base = estimateCost(stackShape(), book, { readingsPerSecond: 1000, rejectShare: 0.37 });
    const ha = estimateCost(stackShape(), book, {
      readingsPerSecond: 1000,
      rejectShare: 0.37,
      multiAz: true,
      rdsProxy: true,
    });
    expect(ha.lines.find((l) => l.item === 'RDS medium multi-AZ')?.usd).toBeCloseTo(2 * 47.45, 6);
    expect(base.lines.find((l) => l.item === 'RDS Proxy')?.usd).toBe(0);
    // max(2, 2 vCPU) × 730 h × $0.015
    expect(ha.lines.find((l) => l.item === 'RDS Proxy')?.usd).toBeCloseTo(21.9, 6);
  });

  it('bills the query API per request (API Gateway and the api function) and the alert topic with its key', () => {
    const w = book.workload;
    const none = estimateCost(stackShape(), book, {
      readingsPerSecond: 100,
      rejectShare: 0.37,
      apiRequestsPerMonth: 0,
    });
    const busy = estimateCost(stackShape(), book, {
      readingsPerSecond: 100,
      rejectShare: 0.37,
      apiRequestsPerMonth: 2_000_000,
    });
    const line = (e: typeof busy, item: string) => e.lines.find((l) => l.item === item)?.usd;
    expect(line(none, 'API Gateway (REST) requests')).toBe(0);
    // 2 M requests × the REST price per million
    expect(line(busy, 'API Gateway (REST) requests')).toBeCloseTo(2 * book.prices.apiGatewayRestPerMillion.usd, 9);
    const api = busy.functions.find((f) => f.fn === 'api');
    expect(api?.invocations).toBeCloseTo(2_000_000, 6);
    expect(api?.msPerInvocation).toBe(Math.ceil(w.apiMsPerRequest));
    // 2 M × 30 ms × 0.5 GB = 30,000 GB-s (with the file's 30 ms)
    expect(api?.gbSeconds).toBeCloseTo(2_000_000 * (Math.ceil(w.apiMsPerRequest) / 1000) * 0.5, 6);
    // The key's monthly charge is there whatever the traffic.
    expect(line(none, 'Alert topic (KMS key, SNS)')).toBeGreaterThanOrEqual(book.prices.kmsKeyMonth.usd);
  });
});
