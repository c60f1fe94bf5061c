/**
 * `npm run cost -- --rate READINGS_PER_SECOND [--reject-share X] [--region R] [--rds-proxy]
 * [--multi-az] [--api-requests N]`: the monthly AWS cost of this stack at that rate, line by line, with the shard
 * count the rate needs and each function's GB-seconds. Prices: infra/cost/prices.json (one region,
 * with the date they were read).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type CostEstimate, estimateCost, type PriceBook } from './model.js';
import { stackShape } from './shape.js';

/** The producer's default fault mix rejects 37% of readings (docs/benchmarks.md, Method). */
const DEFAULT_REJECT_SHARE = 0.37;

export function loadPriceBook(): PriceBook {
  return JSON.parse(readFileSync(new URL('./prices.json', import.meta.url), 'utf8')) as PriceBook;
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string' },
      'reject-share': { type: 'string' },
      region: { type: 'string' },
      'rds-proxy': { type: 'boolean', default: false },
      'multi-az': { type: 'boolean', default: false },
      'api-requests': { type: 'string' },
    },
  });
  const rate = Number(values.rate);
  if (!values.rate || !Number.isFinite(rate) || rate < 0)
    throw new Error('--rate READINGS_PER_SECOND (a number >= 0) is required');
  const rejectShare = values['reject-share'] === undefined ? DEFAULT_REJECT_SHARE : Number(values['reject-share']);
  if (!Number.isFinite(rejectShare) || rejectShare < 0 || rejectShare > 1)
    throw new Error('--reject-share must be between 0 and 1');
  const apiRequests = values['api-requests'] === undefined ? undefined : Number(values['api-requests']);
  if (apiRequests !== undefined && (!Number.isFinite(apiRequests) || apiRequests < 0))
    throw new Error('--api-requests must be a number of requests a month, 0 or more');
  return {
    rate,
    rejectShare,
    region: values.region,
    rdsProxy: values['rds-proxy'],
    multiAz: values['multi-az'],
    apiRequests,
  };
}

function print(e: CostEstimate, book: PriceBook, rate: number, rejectShare: number): void {
  const money = (n: number) => `$${n.toFixed(2).padStart(9)}`;
  console.log(
    `IoT First on AWS at ${rate} readings/s (${(rejectShare * 100).toFixed(0)}% rejected), ${book.region} prices read ${book.read}`,
  );
  console.log(
    `Kinesis shards the rate needs: ${e.shardsNeeded} (billed: ${e.shards}, the topology has at least its own); RDS class: ${e.rdsInstance.class}`,
  );
  for (const l of e.lines) console.log(`  ${money(l.usd)}  ${l.item.padEnd(38)} ${l.detail}`);
  console.log(`  ${money(e.total)}  total per month`);
  console.log('Lambda per function:');
  for (const f of e.functions) {
    console.log(
      `  ${f.fn.padEnd(11)} ${String(f.memoryMb).padStart(5)} MB  ${Math.round(f.invocations).toLocaleString('en-US').padStart(12)} invocations  ${String(f.msPerInvocation).padStart(6)} ms  ${Math.round(f.gbSeconds).toLocaleString('en-US').padStart(10)} GB-s`,
    );
  }
  const top = e.dominant.slice(0, 3).map((l) => `${l.item} ${((l.usd / e.total) * 100).toFixed(0)}%`);
  console.log(`Dominated by: ${top.join(', ')}`);
}

function main(): number {
  const args = parse(process.argv.slice(2));
  const book = loadPriceBook();
  if (args.region && args.region !== book.region) {
    console.error(
      `No prices recorded for ${args.region}: infra/cost/prices.json holds ${book.region} (read ${book.read}).`,
    );
    return 2;
  }
  const estimate = estimateCost(stackShape(), book, {
    readingsPerSecond: args.rate,
    rejectShare: args.rejectShare,
    rdsProxy: args.rdsProxy,
    multiAz: args.multiAz,
    ...(args.apiRequests !== undefined ? { apiRequestsPerMonth: args.apiRequests } : {}),
  });
  print(estimate, book, args.rate, args.rejectShare);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
