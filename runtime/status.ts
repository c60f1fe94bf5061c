/**
 * The live status of `npm start`: what a data engineer watches while the pipeline runs —
 * readings in and out per second, lag per shard, queue depths, totals by outcome, windows and
 * the aggregator's last run. Sampling (I/O) and rendering (pure, unit-tested) are separate.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import type { HostStatus } from './host/lambda-host.js';

export interface StatusSnapshot {
  readonly at: number;
  readonly uptimeMs: number;
  /** Records read from the stream per second since the previous sample. */
  readonly inPerSecond: number;
  /** Rows landed (readings + errors) per second since the previous sample. */
  readonly outPerSecond: number;
  readonly shards: readonly { shardId: string; millisBehindLatest: number; outstanding: number }[];
  readonly queues: Readonly<Record<string, number>>;
  readonly readings: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly windows: number;
  readonly produced: number;
  readonly lastAggregatorRun: { readonly at: Date; readonly ok: boolean; readonly summary: string } | undefined;
  readonly functionErrors: number;
}

export interface DatabaseTotals {
  readonly readings: number;
  readonly errors: Record<string, number>;
  readonly windows: number;
}

export async function readTotals(db: pg.Pool): Promise<DatabaseTotals> {
  const [r, e, w] = await Promise.all([
    db.query<{ n: string }>('SELECT count(*) AS n FROM sensor_readings'),
    db.query<{ error_type: string; n: string }>(
      'SELECT error_type, count(*) AS n FROM sensor_errors GROUP BY error_type ORDER BY error_type',
    ),
    db.query<{ n: string }>('SELECT count(*) AS n FROM sensor_aggregations'),
  ]);
  return {
    readings: Number(r.rows[0]?.n ?? 0),
    errors: Object.fromEntries(e.rows.map((x) => [x.error_type, Number(x.n)])),
    windows: Number(w.rows[0]?.n ?? 0),
  };
}

export async function queueDepths(
  sqs: SQSClient,
  queues: Readonly<Record<string, string>>,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    Object.entries(queues).map(async ([name, url]) => {
      const a = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      out[name] =
        Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
        Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    }),
  );
  return out;
}

function summarize(payload: unknown): string {
  if (payload && typeof payload === 'object') {
    const entries = Object.entries(payload as Record<string, unknown>).filter(
      ([, v]) => typeof v === 'number' || typeof v === 'string',
    );
    return entries
      .slice(0, 4)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
  }
  return String(payload);
}

/** Builds a snapshot from the host, the database totals and the previous snapshot (for rates). */
export function snapshot(input: {
  readonly now: number;
  readonly startedAt: number;
  readonly host: HostStatus;
  readonly totals: DatabaseTotals;
  readonly queues: Readonly<Record<string, number>>;
  readonly produced: number;
  readonly previous?: { at: number; received: number; landed: number } | undefined;
}): { snapshot: StatusSnapshot; counters: { at: number; received: number; landed: number } } {
  const landed = input.totals.readings + Object.values(input.totals.errors).reduce((a, b) => a + b, 0);
  const received = input.host.sources.kinesis?.received ?? 0;
  const prev = input.previous;
  const seconds = prev ? Math.max(0.001, (input.now - prev.at) / 1000) : 1;
  const run = input.host.lastScheduleRuns.aggregator;
  return {
    counters: { at: input.now, received, landed },
    snapshot: {
      at: input.now,
      uptimeMs: input.now - input.startedAt,
      inPerSecond: prev ? Math.max(0, (received - prev.received) / seconds) : 0,
      outPerSecond: prev ? Math.max(0, (landed - prev.landed) / seconds) : 0,
      shards: input.host.shards.map((s) => ({
        shardId: s.shardId,
        millisBehindLatest: s.millisBehindLatest,
        outstanding: s.outstanding,
      })),
      queues: input.queues,
      readings: input.totals.readings,
      errors: input.totals.errors,
      windows: input.totals.windows,
      produced: input.produced,
      lastAggregatorRun: run && {
        at: run.at,
        ok: run.outcome.ok,
        summary: run.outcome.ok ? summarize(run.outcome.payload) : run.outcome.error.errorMessage,
      },
      functionErrors: Object.values(input.host.functions).reduce((a, f) => a + f.errors, 0),
    },
  };
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

function ago(at: Date, now: number): string {
  const s = Math.max(0, Math.round((now - at.getTime()) / 1000));
  return `${s}s ago`;
}

/** Multi-line panel for a terminal (redrawn in place). */
export function renderPanel(s: StatusSnapshot): string[] {
  const errorTotal = Object.values(s.errors).reduce((a, b) => a + b, 0);
  const lines = [
    `IoT First — embedded pipeline   up ${Math.round(s.uptimeMs / 1000)}s   (Ctrl-C stops)`,
    `  throughput   in ${n(s.inPerSecond)}/s   out ${n(s.outPerSecond)}/s   produced ${n(s.produced)}`,
    `  shards       ${s.shards.map((x) => `${x.shardId.replace('shardId-', '#')} lag ${n(x.millisBehindLatest)}ms, ${n(x.outstanding)} pending`).join('   ') || '-'}`,
    `  queues       ${
      Object.entries(s.queues)
        .map(([q, d]) => `${q} ${n(d)}`)
        .join('   ') || '-'
    }`,
    `  readings     ${n(s.readings)}`,
    `  errors       ${n(errorTotal)}${
      errorTotal > 0
        ? `   ${Object.entries(s.errors)
            .map(([t, c]) => `${t} ${n(c)}`)
            .join('  ')}`
        : ''
    }`,
    `  windows      ${n(s.windows)}`,
    `  aggregator   ${s.lastAggregatorRun ? `${ago(s.lastAggregatorRun.at, s.at)} ${s.lastAggregatorRun.ok ? 'ok' : 'FAILED'} ${s.lastAggregatorRun.summary}` : 'not run yet'}`,
  ];
  if (s.functionErrors > 0) lines.push(`  function errors ${n(s.functionErrors)} (see .iot-first/logs/)`);
  return lines;
}

/** One line, for `--quiet` and for output that is not a terminal. */
export function renderLine(s: StatusSnapshot): string {
  const errorTotal = Object.values(s.errors).reduce((a, b) => a + b, 0);
  const lag = Math.max(0, ...s.shards.map((x) => x.millisBehindLatest));
  const depth = Object.values(s.queues).reduce((a, b) => a + b, 0);
  const agg = s.lastAggregatorRun
    ? `${ago(s.lastAggregatorRun.at, s.at)} ${s.lastAggregatorRun.ok ? 'ok' : 'FAILED'}`
    : 'none';
  return `[${new Date(s.at).toISOString()}] in ${n(s.inPerSecond)}/s out ${n(s.outPerSecond)}/s lag ${n(lag)}ms queued ${n(depth)} readings ${n(s.readings)} errors ${n(errorTotal)} windows ${n(s.windows)} aggregator ${agg}`;
}
