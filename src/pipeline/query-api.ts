/**
 * The query API's use cases (issue 10) over the {@link QueryStore} port: statuses from the age of
 * data, UTC-aligned buckets with every empty one explicit, keyset pagination with opaque cursors,
 * and caps so that no request makes the database scan without bound (a too-wide windows range is
 * cut and continued by a cursor; a too-wide errors range is refused, naming the limit).
 */
import {
  type AlertSummary,
  BadCursorError,
  badRequest,
  bucketStart,
  type ChangesReply,
  type DqLatestReply,
  type DqRunSummary,
  type DqRunsQuery,
  type DqRunsReply,
  decodeCursor,
  type ErrorsQuery,
  type ErrorsReply,
  encodeCursor,
  type FleetQuery,
  type FleetReply,
  type FleetSensor,
  type HealthReply,
  LIMITS,
  notFound,
  type ReadingsQuery,
  type ReadingsReply,
  type SensorReply,
  STEPS,
  type StatusThresholds,
  sensorStatus,
  stepMs,
  type WindowBucket,
  type WindowsQuery,
  type WindowsReply,
} from '#domain/api.js';
import type {
  FleetRow,
  FleetSelection,
  PipelineGauges,
  QueryApi,
  QueryStore,
  RolledBucket,
} from '#domain/query-ports.js';

export interface QueryOptions {
  readonly thresholds: StatusThresholds;
  /** The aggregator runs every minute; later than this since its last run, health says late. */
  readonly aggregatorLateAfterSeconds: number;
  /** The data-quality function runs every 5 minutes; later than this, health says late. */
  readonly dqLateAfterSeconds: number;
  /** A shard whose oldest unprocessed record is older than this is late (and so is the stream). */
  readonly streamLateAfterSeconds: number;
  /** A working queue holding more visible messages than this is late (a dead-letter queue: any). */
  readonly queueLateAfterMessages: number;
}

export const DEFAULT_QUERY_OPTIONS: QueryOptions = {
  thresholds: { staleAfterSeconds: 300, offlineAfterSeconds: 3_600 },
  aggregatorLateAfterSeconds: 180,
  dqLateAfterSeconds: 900,
  streamLateAfterSeconds: 60,
  queueLateAfterMessages: 1_000,
};

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const isoOf = (ms: number) => new Date(ms).toISOString();
const unknownSensor = (sensorId: string) => notFound(`no sensor ${JSON.stringify(sensorId)} has a stored reading`);

/** Decodes a cursor, turning a forged or foreign one into a 400. */
function cursorValues(kind: string, cursor: string, shape: readonly ('string' | 'number')[]) {
  try {
    return decodeCursor(kind, cursor, shape);
  } catch (error) {
    if (error instanceof BadCursorError) throw badRequest(`cursor: ${error.message}`);
    throw error;
  }
}

/** The requested range as milliseconds: `to` defaults to now, `from` to a default span before it. */
function range(q: { from?: string | undefined; to?: string | undefined }, nowMs: number, defaultSpanMs: number) {
  const to = q.to === undefined ? nowMs : Date.parse(q.to);
  const from = q.from === undefined ? to - defaultSpanMs : Date.parse(q.from);
  if (from >= to) throw badRequest(`from (${isoOf(from)}) must be before to (${isoOf(to)})`);
  return { from, to };
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `isoOf` for an ascending run of instants, as bucket bounds are: the date part is formatted once
 * per UTC day and the time by arithmetic. `Date#toISOString` costs microseconds a call, which
 * for 1,441 bounds was as much as the rest of the bucket loop. Years outside 0000–9999 (an
 * extended ISO year) take `isoOf` itself.
 */
function isoFormatter(): (ms: number) => string {
  let day = Number.NaN;
  let prefix: string | undefined;
  return (ms) => {
    const d = Math.floor(ms / DAY_MS);
    if (d !== day) {
      day = d;
      const full = isoOf(d * DAY_MS);
      prefix = full.length === 24 ? full.slice(0, 11) : undefined;
    }
    if (prefix === undefined) return isoOf(ms);
    const t = ms - d * DAY_MS;
    const h = Math.floor(t / 3_600_000);
    const m = Math.floor(t / MINUTE_MS) % 60;
    const sec = Math.floor(t / 1000) % 60;
    return `${prefix}${pad2(h)}:${pad2(m)}:${pad2(sec)}.${pad3(t % 1000)}Z`;
  };
}

/**
 * Every bucket of the page in order, an explicit empty one where the rollup has none. The rollup
 * comes sorted by start, so one walk merges it (no lookup table), each bucket is built with one
 * literal shape (V8 keeps such objects compact, and JSON.stringify fast), and a bucket's end is
 * the next one's start (one date formatting per bucket, by isoFormatter). A 24 h page at 1m is 1,440 buckets: this
 * loop and the reply's encoding were most of the API's cost above the bare SQL.
 */
function fillBuckets(
  rolled: readonly RolledBucket[],
  page: { readonly start: number; readonly end: number; readonly size: number },
  nowMs: number,
): WindowBucket[] {
  const buckets: WindowBucket[] = [];
  const iso = isoFormatter();
  let next = 0;
  let startIso = iso(page.start);
  for (let start = page.start; start < page.end; start += page.size) {
    const end = start + page.size;
    const endIso = iso(end);
    while (next < rolled.length && (rolled[next] as RolledBucket).start < start) next++;
    const b = rolled[next]?.start === start ? (rolled[next] as RolledBucket) : undefined;
    buckets.push({
      start: startIso,
      end: endIso,
      count: b ? b.count : 0,
      avg: b ? b.avg : null,
      min: b ? b.min : null,
      max: b ? b.max : null,
      stddev: b ? b.stddev : null,
      highAlertCount: b ? b.highAlertCount : 0,
      lowAlertCount: b ? b.lowAlertCount : 0,
      partial: start <= nowMs && end > nowMs,
    });
    startIso = endIso;
  }
  return buckets;
}

export class QueryService implements QueryApi {
  constructor(
    private readonly store: QueryStore,
    private readonly options: QueryOptions = DEFAULT_QUERY_OPTIONS,
    private readonly gauges?: PipelineGauges,
    /** The API's clock (epoch ms); statuses and "the current minute" are relative to it. */
    private readonly clock: () => number = Date.now,
  ) {}

  get thresholds(): StatusThresholds {
    return this.options.thresholds;
  }

  private toFleetSensor(row: FleetRow, nowMs: number): FleetSensor {
    const seen = Date.parse(row.eventTime);
    const total = row.rejectedLastHour + row.validLastHour;
    return {
      sensorId: row.sensorId,
      sensorType: row.sensorType,
      unit: row.unit,
      manufacturer: row.manufacturer,
      model: row.model,
      status: sensorStatus(seen, nowMs, this.options.thresholds),
      lastSeen: isoOf(seen),
      latest: {
        value: row.value,
        normalizedValue: row.normalizedValue,
        highAlert: row.highAlert,
        lowAlert: row.lowAlert,
        min: row.min,
        max: row.max,
        deviceStatus: row.deviceStatus,
        eventTime: isoOf(seen),
        processingTime: row.processingTime,
      },
      rejectedLastHour: row.rejectedLastHour,
      rejectionRateLastHour: total === 0 ? null : row.rejectedLastHour / total,
      openAlerts: [...row.openAlerts],
    };
  }

  /** Newest-reading bounds that select one status (see sensorStatus). */
  private statusBounds(
    status: FleetQuery['status'],
    nowMs: number,
  ): Pick<FleetSelection, 'seenAtOrAfter' | 'seenBefore'> {
    const stale = isoOf(nowMs - this.options.thresholds.staleAfterSeconds * 1000);
    const offline = isoOf(nowMs - this.options.thresholds.offlineAfterSeconds * 1000);
    if (status === 'ok') return { seenAtOrAfter: stale };
    if (status === 'stale') return { seenAtOrAfter: offline, seenBefore: stale };
    if (status === 'offline') return { seenBefore: offline };
    return {};
  }

  async fleet(q: FleetQuery): Promise<FleetReply> {
    const nowMs = this.clock();
    let after: FleetSelection['after'];
    if (q.cursor) {
      const [sort, order, key, sensorId] = cursorValues('fleet', q.cursor, ['string', 'string', 'string', 'string']);
      if (sort !== q.sort || order !== q.order) throw badRequest('cursor: it belongs to another sort order');
      after = { key: String(key), sensorId: String(sensorId) };
    }
    const rows = await this.store.fleet({
      type: q.type,
      idContains: q.q,
      alert: q.alert,
      ...this.statusBounds(q.status, nowMs),
      sort: q.sort,
      order: q.order,
      after,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const truncated = rows.length > q.limit;
    return {
      generatedAt: isoOf(nowMs),
      thresholds: this.options.thresholds,
      sensors: page.map((r) => this.toFleetSensor(r, nowMs)),
      truncated,
      nextCursor: truncated && last ? encodeCursor('fleet', [q.sort, q.order, last.eventTime, last.sensorId]) : null,
    };
  }

  async sensor(sensorId: string): Promise<SensorReply> {
    const nowMs = this.clock();
    const [row] = await this.store.fleet({
      sensorId,
      sort: 'id',
      order: 'asc',
      limit: 1,
    });
    if (!row) throw unknownSensor(sensorId);
    return {
      generatedAt: isoOf(nowMs),
      thresholds: this.options.thresholds,
      sensor: this.toFleetSensor(row, nowMs),
      recentAlerts: await this.store.recentAlerts(sensorId, 20),
    };
  }

  /** Rejects with 404 when the sensor has no stored reading. */
  private async requireSensor(sensorId: string): Promise<void> {
    if (!(await this.store.sensorExists(sensorId))) {
      throw unknownSensor(sensorId);
    }
  }

  async readings(sensorId: string, q: ReadingsQuery): Promise<ReadingsReply> {
    const nowMs = this.clock();
    const to = q.to === undefined ? nowMs + MINUTE_MS : Date.parse(q.to);
    if (q.from !== undefined && Date.parse(q.from) >= to) throw badRequest('from must be before to');
    let after: { eventTime: string; shardId: string; sequenceNumber: string } | undefined;
    if (q.cursor) {
      const [eventTime, shardId, sequenceNumber] = cursorValues('readings', q.cursor, ['string', 'string', 'string']);
      if (Number.isNaN(Date.parse(String(eventTime)))) throw badRequest('cursor: it is not one this API returned');
      after = { eventTime: String(eventTime), shardId: String(shardId), sequenceNumber: String(sequenceNumber) };
    }
    const [rows] = await Promise.all([
      this.store.readings(sensorId, { from: q.from, to: isoOf(to), after, limit: q.limit + 1 }),
      this.requireSensor(sensorId),
    ]);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const truncated = rows.length > q.limit;
    return {
      sensorId,
      readings: page.map(({ key: _key, ...r }) => r),
      truncated,
      nextCursor:
        truncated && last
          ? encodeCursor('readings', [last.key.eventTime, last.key.shardId, last.key.sequenceNumber])
          : null,
    };
  }

  /** Where a windows page starts and ends, and whether more follows. */
  private windowsPage(q: WindowsQuery, nowMs: number) {
    const requested = range(q, nowMs, DAY_MS);
    const size = stepMs(q.step);
    let start = bucketStart(requested.from, q.step);
    if (q.cursor) {
      const [step, cursorStart, cursorTo] = cursorValues('windows', q.cursor, ['string', 'number', 'number']);
      if (step !== q.step || cursorTo !== requested.to || Number(cursorStart) < start) {
        throw badRequest('cursor: it belongs to another range or step; repeat the request that returned it');
      }
      start = Number(cursorStart);
    }
    const perPage = Math.min(LIMITS.windowBuckets, Math.floor(LIMITS.windowMinutes / STEPS[q.step]));
    const buckets = Math.ceil((requested.to - start) / size);
    const truncated = buckets > perPage;
    const end = truncated ? start + perPage * size : requested.to;
    return { start, end, to: requested.to, truncated, size };
  }

  async windows(sensorId: string, q: WindowsQuery): Promise<WindowsReply> {
    const nowMs = this.clock();
    const page = this.windowsPage(q, nowMs);
    const rawFrom = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    // Two statements in parallel: the rollup, and the context (existence, last value, alerts).
    const [rolled, context] = await Promise.all([
      this.store.windows({
        sensorId,
        step: q.step,
        from: isoOf(page.start),
        to: isoOf(page.end),
        rawFrom: isoOf(rawFrom),
      }),
      this.store.windowContext(sensorId, isoOf(page.start), isoOf(page.end), 100),
    ]);
    if (!context.exists) throw unknownSensor(sensorId);
    const { lastBefore, alerts } = context;
    const buckets = fillBuckets(rolled, page, nowMs);
    return {
      sensorId,
      step: q.step,
      from: isoOf(page.start),
      to: isoOf(page.end),
      buckets,
      lastBefore,
      alerts,
      truncated: page.truncated,
      nextCursor: page.truncated ? encodeCursor('windows', [q.step, page.end, page.to]) : null,
    };
  }

  async errors(q: ErrorsQuery): Promise<ErrorsReply> {
    const nowMs = this.clock();
    const requested = range(q, nowMs, DAY_MS);
    if (requested.to - requested.from > LIMITS.errorRangeDays * DAY_MS) {
      throw badRequest(`the range is longer than ${LIMITS.errorRangeDays} days, the widest /api/errors accepts`);
    }
    const from = bucketStart(requested.from, q.step);
    const size = stepMs(q.step);
    const count = Math.ceil((requested.to - from) / size);
    if (count > LIMITS.errorBuckets) {
      throw badRequest(`${count} buckets of ${q.step}; at most ${LIMITS.errorBuckets} per request: use a larger step`);
    }
    let after: { errorTime: string; streamName: string; shardId: string; sequenceNumber: string } | undefined;
    if (q.cursor) {
      const [errorTime, streamName, shardId, sequenceNumber] = cursorValues('errors', q.cursor, [
        'string',
        'string',
        'string',
        'string',
      ]);
      if (Number.isNaN(Date.parse(String(errorTime)))) throw badRequest('cursor: it is not one this API returned');
      after = {
        errorTime: String(errorTime),
        streamName: String(streamName),
        shardId: String(shardId),
        sequenceNumber: String(sequenceNumber),
      };
    }
    const selection = { type: q.type, sensorId: q.sensor, from: isoOf(from), to: isoOf(requested.to) };
    const [counts, rows] = await Promise.all([
      this.store.errorCounts({ ...selection, step: q.step }),
      this.store.errorRows({ ...selection, after, limit: q.limit + 1 }),
    ]);
    const buckets: ErrorsReply['buckets'] = [];
    const index = new Map<number, ErrorsReply['buckets'][number]>();
    for (let start = from; start < requested.to; start += size) {
      const bucket = { start: isoOf(start), end: isoOf(start + size), total: 0, counts: {} as Record<string, number> };
      buckets.push(bucket);
      index.set(start, bucket);
    }
    for (const c of counts) {
      const bucket = index.get(c.start);
      if (!bucket) continue;
      bucket.counts[c.type] = c.count;
      bucket.total += c.count;
    }
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const truncated = rows.length > q.limit;
    return {
      step: q.step,
      from: isoOf(from),
      to: isoOf(requested.to),
      buckets,
      rows: page.map(({ key: _key, ...r }) => r),
      truncated,
      nextCursor:
        truncated && last
          ? encodeCursor('errors', [last.key.errorTime, last.key.streamName, last.key.shardId, last.key.sequenceNumber])
          : null,
    };
  }

  async dqRuns(q: DqRunsQuery): Promise<DqRunsReply> {
    let after: { startedAt: string; runId: string } | undefined;
    if (q.cursor) {
      const [startedAt, runId] = cursorValues('dq', q.cursor, ['string', 'string']);
      if (Number.isNaN(Date.parse(String(startedAt)))) throw badRequest('cursor: it is not one this API returned');
      after = { startedAt: String(startedAt), runId: String(runId) };
    }
    const rows = await this.store.dqRuns({ after, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const truncated = rows.length > q.limit;
    return {
      runs: page.map(({ startedAtKey: _key, ...r }): DqRunSummary => r),
      truncated,
      nextCursor: truncated && last ? encodeCursor('dq', [last.startedAtKey, last.runId]) : null,
    };
  }

  async dqLatest(): Promise<DqLatestReply> {
    return { run: await this.store.dqLatest() };
  }

  async health(): Promise<HealthReply> {
    const nowMs = Date.now();
    // A gauge that cannot be read (a queue deleted, CloudWatch throttling) reports null, never a 500.
    const [facts, stream, queues] = await Promise.all([
      this.store.health(),
      this.gauges?.stream().catch(() => null) ?? null,
      this.gauges?.queues().catch(() => null) ?? null,
    ]);
    const lagLate = (ms: number | null) => ms !== null && ms > this.options.streamLateAfterSeconds * 1000;
    // From the last run; a job that never ran is given its limit from the database's start.
    const lateSince = (at: string | null, seconds: number) =>
      nowMs - Date.parse(at ?? facts.databaseUpSince) > seconds * 1000;
    return {
      generatedAt: isoOf(nowMs),
      database: { ok: true },
      aggregator: {
        lastRunAt: facts.aggregatorLastRunAt,
        late: lateSince(facts.aggregatorLastRunAt, this.options.aggregatorLateAfterSeconds),
        pendingWindows: facts.pendingWindows,
        oldestPendingWindow: facts.oldestPendingWindow,
      },
      dq: {
        lastRunAt: facts.dqLastRunAt,
        late: lateSince(facts.dqLastRunAt, this.options.dqLateAfterSeconds),
        outcome: facts.dqOutcome,
      },
      stream: stream && { iteratorAgeMs: stream.iteratorAgeMs, late: lagLate(stream.iteratorAgeMs) },
      shards: stream?.shards.map((shard) => ({ ...shard, late: lagLate(shard.lagMs) })) ?? null,
      queues:
        queues?.map((q) => ({
          ...q,
          late: q.dlq ? q.visible + q.inFlight > 0 : q.visible > this.options.queueLateAfterMessages,
        })) ?? null,
    };
  }

  async changes(since: string | undefined): Promise<ChangesReply> {
    const set = await this.store.changes(since, LIMITS.changes + 1);
    const over = <T>(list: readonly T[]) => list.length > LIMITS.changes;
    const truncated = over(set.sensors) || over(set.alerts) || over(set.dqRuns);
    const nothing = set.sensors.length === 0 && set.alerts.length === 0 && set.dqRuns.length === 0;
    return {
      // Nothing new: the same cursor, hence the same reply and ETag, so pollers get 304s.
      cursor: since !== undefined && nothing ? since : set.cursor,
      sensors: set.sensors.slice(0, LIMITS.changes),
      alerts: set.alerts.slice(0, LIMITS.changes) as AlertSummary[],
      dqRuns: set.dqRuns.slice(0, LIMITS.changes),
      truncated,
    };
  }
}
