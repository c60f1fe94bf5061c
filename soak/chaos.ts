/**
 * The faults of a chaos run and their seeded schedule. Each fault reports whether it really
 * happened (a victim found and killed, a lock acquired, the connection limit reached, a service
 * seen down), so a fault that silently did nothing shows in the report and fails the short run.
 */
import pg from 'pg';
import { sleep } from '#adapters/retry.js';
import type { SoakInfra } from './infra.js';
import { containerPids } from './probes.js';
import type { StackProcess } from './stack-process.js';

export const FAULTS = [
  'kill-validator',
  'kill-drainer',
  'pg-restart',
  'pg-slow',
  'pg-connections',
  'stream-restart',
  'queue-restart',
  'stack-kill',
  'burst',
  'hostile',
] as const;
export type FaultName = (typeof FAULTS)[number];

export interface FaultRecord {
  readonly name: FaultName;
  readonly startedAt: number;
  endedAt: number;
  happened: boolean;
  detail: string;
  /** When records sent after the fault were back under the threshold (verdict.ts). */
  healedAt?: number;
  /** The latency a reading had to be back under: the target, or 1.5 × the p99 before the fault. */
  healThresholdMs?: number;
}

export interface ChaosContext {
  readonly infra: SoakInfra;
  readonly stack: StackProcess;
  /** Sets the send rate multiplier (a burst). */
  setMultiplier(m: number): void;
  /** Records sent so far, for a burst to prove it sent more. */
  sentSoFar(): number;
  /** Sends `n` hostile records; resolves with how many the stream acknowledged. */
  sendHostile(n: number): Promise<number>;
  /** After a stack restart: devices and clients point at the new process. */
  afterStackRestart(): Promise<void>;
  readonly log: (line: string) => void;
}

/** The device simulator's seeded generator (mulberry32): a seed gives the same schedule and victims. */
export { seededRandom } from '#runtime/mqtt/device-simulator.js';

/** How long an outage or a hold lasts. */
const OUTAGE_MS = 5_000;

async function killContainer(ctx: ChaosContext, fn: string, random: () => number): Promise<string | undefined> {
  // A container exists once its function has work; wait a little for one.
  for (let i = 0; i < 50; i++) {
    const pids = containerPids(ctx.stack.pid, fn);
    if (pids.length > 0) {
      const victim = pids[Math.floor(random() * pids.length)] as number;
      process.kill(victim, 'SIGKILL');
      return `SIGKILL to ${fn} container pid ${victim} (of ${pids.length})`;
    }
    await sleep(200);
  }
  return undefined;
}

async function refused(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return false;
  } catch {
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function holdLock(ctx: ChaosContext): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ctx.infra.databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('BEGIN');
    // SHARE conflicts with the ROW EXCLUSIVE every insert takes: writers wait, readers do not.
    await client.query('LOCK TABLE sensor_readings, sensor_errors IN SHARE MODE');
    await sleep(OUTAGE_MS);
    const waiting = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_locks WHERE NOT granted');
    await client.query('COMMIT');
    return `held SHARE locks on sensor_readings and sensor_errors for ${OUTAGE_MS} ms; ${waiting.rows[0]?.n} lock request(s) waiting at the end`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function exhaustConnections(ctx: ChaosContext): Promise<string | undefined> {
  const clients: pg.Client[] = [];
  let refusedWith = '';
  try {
    for (let i = 0; i < 400 && !refusedWith; i++) {
      const c = new pg.Client({ connectionString: ctx.infra.databaseUrl, connectionTimeoutMillis: 5_000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        clients.push(c);
      } catch (error) {
        refusedWith = (error as Error).message;
      }
    }
    if (!refusedWith) return undefined;
    await sleep(OUTAGE_MS);
    return `held ${clients.length} connections for ${OUTAGE_MS} ms (the next was refused: ${refusedWith})`;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

async function burst(ctx: ChaosContext): Promise<string | undefined> {
  const before = ctx.sentSoFar();
  const started = Date.now();
  ctx.setMultiplier(5);
  await sleep(10_000);
  ctx.setMultiplier(1);
  const sent = ctx.sentSoFar() - before;
  return `rate x5 for ${Math.round((Date.now() - started) / 1000)} s: ${sent} records sent`;
}

/** Runs one fault; the record says what happened. Never throws: a failed injection is a finding. */
export async function inject(name: FaultName, ctx: ChaosContext, random: () => number): Promise<FaultRecord> {
  const record: FaultRecord = { name, startedAt: Date.now(), endedAt: 0, happened: false, detail: '' };
  ctx.log(`fault: ${name} begins`);
  try {
    let detail: string | undefined;
    switch (name) {
      case 'kill-validator':
        detail = await killContainer(ctx, 'validator', random);
        break;
      case 'kill-drainer':
        detail = await killContainer(ctx, 'dlq-drainer', random);
        break;
      case 'pg-restart': {
        await ctx.infra.postgres.stop();
        const down = await refused(ctx.infra.databaseUrl);
        await sleep(OUTAGE_MS);
        await ctx.infra.postgres.start();
        detail = down ? `PostgreSQL stopped (connections refused) for ${OUTAGE_MS} ms, restarted` : undefined;
        break;
      }
      case 'pg-slow':
        detail = await holdLock(ctx);
        break;
      case 'pg-connections':
        detail = await exhaustConnections(ctx);
        break;
      case 'stream-restart':
        await ctx.infra.stream.stop();
        await sleep(OUTAGE_MS);
        await ctx.infra.stream.start();
        detail = `kinesalite stopped for ${OUTAGE_MS} ms, restarted on its data`;
        break;
      case 'queue-restart':
        await ctx.infra.queues.stop();
        await sleep(OUTAGE_MS);
        await ctx.infra.queues.start();
        detail = `fauxqs stopped for ${OUTAGE_MS} ms, restarted from its journal`;
        break;
      case 'stack-kill': {
        const before = ctx.stack.pid;
        await ctx.stack.kill();
        await ctx.stack.start();
        await ctx.afterStackRestart();
        detail = `SIGKILL to the stack's process group (pid ${before}), restarted as pid ${ctx.stack.pid}`;
        break;
      }
      case 'burst':
        detail = await burst(ctx);
        break;
      case 'hostile': {
        const acked = await ctx.sendHostile(30);
        detail =
          acked > 0 ? `${acked} hostile records (random bytes, 200 KB, 20-50k levels deep) on the stream` : undefined;
        break;
      }
    }
    record.happened = detail !== undefined;
    record.detail = detail ?? 'the fault could not be injected (no victim, no refusal)';
  } catch (error) {
    record.detail = `the injection failed: ${(error as Error).message}`;
  }
  record.endedAt = Date.now();
  ctx.log(`fault: ${name} ends (${record.happened ? 'happened' : 'DID NOT HAPPEN'}): ${record.detail}`);
  return record;
}

export interface ScheduleOptions {
  readonly durationMs: number;
  readonly faults: readonly FaultName[];
  readonly random: () => number;
}

/** Start offsets (ms from the run's start) and faults: after a warm-up, never in the last stretch, in a seeded order. */
export function schedule(o: ScheduleOptions): { at: number; name: FaultName }[] {
  if (o.faults.length === 0) return [];
  const warmUp = Math.min(20_000, o.durationMs * 0.2);
  const tail = Math.min(30_000, o.durationMs * 0.2);
  const usable = o.durationMs - warmUp - tail;
  // About one fault a minute on long runs, and every listed fault at least once on short ones.
  const n = Math.max(o.faults.length, Math.floor(usable / 60_000));
  const order = [...o.faults];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(o.random() * (i + 1));
    [order[i], order[j]] = [order[j] as FaultName, order[i] as FaultName];
  }
  const slot = usable / n;
  return Array.from({ length: n }, (_, i) => ({
    at: Math.round(warmUp + i * slot + o.random() * slot * 0.3),
    name: order[i % order.length] as FaultName,
  }));
}
