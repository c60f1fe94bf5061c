/**
 * `npm run soak -- --minutes N --rate R [--chaos] [--seed S] [--faults a,b] [--no-kafka] [--keep-state]`
 *
 * Runs the embedded pipeline under sustained load through every door, with faults on a seeded
 * schedule when asked, and judges the run from the data (soak/verdict.ts). Writes a JSON report
 * and a Markdown summary to bench/results/; exits 1 when anything acknowledged was lost or
 * duplicated (or the windows, the DLQs, a fault or the stop went wrong), 2 on a usage error.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KCAT } from '#runtime/kafka/mock-cluster.js';
import { FAULTS, type FaultName } from './chaos.js';
import { writeReport } from './report.js';
import { runSoak } from './run.js';
import { PROJECT_ROOT } from './stack-process.js';

const USAGE = `usage: npm run soak -- --minutes N --rate R [--chaos] [--seed S] [--faults ${FAULTS.join(',')}] [--no-kafka] [--keep-state]`;

/** The e2e benchmark's p99 target at 1,000 readings/s (docs/benchmarks.md): a fault has healed once new readings land within it. */
const LATENCY_TARGET_MS = 2_250;

function positive(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const v = Number(value);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, got ${value}`);
  return v;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      chaos: { type: 'boolean', default: false },
      faults: { type: 'string' },
      'no-kafka': { type: 'boolean', default: false },
      'keep-state': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let faults: FaultName[] = [];
  let minutes: number;
  let rate: number;
  let seed: number;
  try {
    minutes = positive('minutes', values.minutes);
    rate = positive('rate', values.rate);
    seed = Math.floor(positive('seed', values.seed, Math.floor(Math.random() * 2 ** 31)));
    if (values.faults) {
      faults = values.faults.split(',').map((f) => {
        if (!(FAULTS as readonly string[]).includes(f))
          throw new Error(`unknown fault ${f}; known: ${FAULTS.join(', ')}`);
        return f as FaultName;
      });
    } else if (values.chaos) faults = [...FAULTS];
  } catch (error) {
    process.stderr.write(`soak: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const kafka = !values['no-kafka'] && KCAT !== undefined;
  if (!values['no-kafka'] && !kafka) process.stdout.write('soak: kcat is not installed: the Kafka door is not fed\n');
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stdout.write('soak: stopping the feed (again to quit at once); the run settles and is judged\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const report = await runSoak({
    signal: abort.signal,
    minutes,
    rate,
    seed,
    faults,
    kafka,
    latencyTargetMs: LATENCY_TARGET_MS,
    keepState: values['keep-state'],
    progress: (line) => process.stdout.write(`${line}\n`),
  });
  const files = writeReport(report, path.join(PROJECT_ROOT, 'bench/results'));
  process.stdout.write(`\n${files.md}\n${files.json}\n`);
  const { totals } = report.verdict;
  process.stdout.write(
    `verdict: ${report.ok ? 'clean' : 'NOT CLEAN'}: acknowledged ${totals.acked}, lost ${totals.lost}, duplicated ${totals.duplicated}, wrong outcome ${totals.wrongOutcome}\n`,
  );
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
