/**
 * Ports of the query API's use cases (src/pipeline/query-api.ts): a read-only store of what the
 * pipeline produced, a token store, and optional gauges of the stream and queues. Instants cross
 * the ports as ISO-8601 UTC strings with microseconds where they key a cursor, so a keyset never
 * loses PostgreSQL's precision to a JavaScript Date.
 */
import type {
  AlertSummary,
  ChangesReply,
  DqLatestReply,
  DqRunSummary,
  DqRunsQuery,
  DqRunsReply,
  ErrorRow,
  ErrorsQuery,
  ErrorsReply,
  FleetQuery,
  FleetReply,
  HealthReply,
  ReadingItem,
  ReadingsQuery,
  ReadingsReply,
  SensorReply,
  StatusThresholds,
  Step,
  TokenInfo,
  WindowsQuery,
  WindowsReply,
} from './api.js';

export interface FleetRow {
  readonly sensorId: string;
  readonly sensorType: string;
  readonly unit: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly deviceStatus: string;
  readonly value: number;
  readonly normalizedValue: number;
  readonly highAlert: boolean;
  readonly lowAlert: boolean;
  readonly min: number;
  readonly max: number;
  /** Event time of the newest reading, microsecond ISO (also the lastSeen sort key). */
  readonly eventTime: string;
  readonly processingTime: string;
  /** Last-hour figures as the aggregator's last run left them (sensor_activity). */
  readonly rejectedLastHour: number;
  readonly validLastHour: number;
  readonly openAlerts: readonly AlertSummary[];
}

export interface FleetSelection {
  readonly sensorId?: string | undefined;
  readonly type?: string | undefined;
  readonly idContains?: string | undefined;
  /** Newest-reading event time bounds that select a status: [atOrAfter, before). */
  readonly seenAtOrAfter?: string | undefined;
  readonly seenBefore?: string | undefined;
  readonly alert?: 'open' | 'none' | undefined;
  readonly sort: 'id' | 'lastSeen';
  readonly order: 'asc' | 'desc';
  /** Keyset: rows strictly after this (sort key, sensor id) in the sort order. */
  readonly after?: { readonly key: string; readonly sensorId: string } | undefined;
  readonly limit: number;
}

export interface RolledBucket {
  /** Bucket start, epoch milliseconds. */
  readonly start: number;
  readonly count: number;
  readonly avg: number;
  readonly min: number;
  readonly max: number;
  readonly stddev: number | null;
  readonly highAlertCount: number;
  readonly lowAlertCount: number;
}

export interface WindowSelection {
  readonly sensorId: string;
  readonly step: Step;
  readonly from: string;
  readonly to: string;
  /** Minutes at or after this come from raw readings (the aggregator has not run for them yet). */
  readonly rawFrom: string;
}

export interface ErrorSelection {
  readonly type?: string | undefined;
  readonly sensorId?: string | undefined;
  readonly from: string;
  readonly to: string;
}

export interface ReadingKey {
  readonly eventTime: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export interface ErrorKey {
  readonly errorTime: string;
  readonly streamName: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export interface HealthFacts {
  readonly aggregatorLastRunAt: string | null;
  readonly pendingWindows: number;
  readonly oldestPendingWindow: string | null;
  readonly dqLastRunAt: string | null;
  readonly dqOutcome: string | null;
  /**
   * When the database server last started: a scheduled job that has not run yet is late only
   * once its limit has passed since then, so a first start does not report everything late.
   */
  readonly databaseUpSince: string;
}

export interface ChangeSet {
  /** The snapshot's oldest in-flight transaction: every later change has an id at or above it. */
  readonly cursor: string;
  readonly sensors: readonly {
    sensorId: string;
    lastSeen: string;
    value: number;
    highAlert: boolean;
    lowAlert: boolean;
  }[];
  readonly alerts: readonly AlertSummary[];
  readonly dqRuns: readonly DqRunSummary[];
}

export interface QueryStore {
  fleet(selection: FleetSelection): Promise<FleetRow[]>;
  recentAlerts(sensorId: string, limit: number): Promise<AlertSummary[]>;
  sensorExists(sensorId: string): Promise<boolean>;
  readings(
    sensorId: string,
    range: { from?: string | undefined; to: string; after?: ReadingKey | undefined; limit: number },
  ): Promise<(ReadingItem & { readonly key: ReadingKey })[]>;
  windows(selection: WindowSelection): Promise<RolledBucket[]>;
  /**
   * In one statement: whether the sensor exists, its newest reading before `from`, and the alerts
   * open at any time in [from, to) (at most `alertLimit`).
   */
  windowContext(
    sensorId: string,
    from: string,
    to: string,
    alertLimit: number,
  ): Promise<{ exists: boolean; lastBefore: { eventTime: string; value: number } | null; alerts: AlertSummary[] }>;
  errorCounts(selection: ErrorSelection & { step: Step }): Promise<{ start: number; type: string; count: number }[]>;
  errorRows(
    selection: ErrorSelection & { after?: ErrorKey | undefined; limit: number },
  ): Promise<(ErrorRow & { readonly key: ErrorKey })[]>;
  dqRuns(page: {
    after?: { startedAt: string; runId: string } | undefined;
    limit: number;
  }): Promise<(DqRunSummary & { readonly startedAtKey: string })[]>;
  dqLatest(): Promise<DqLatestReply['run']>;
  health(): Promise<HealthFacts>;
  /** What changed in transactions at or after `since` (absent: nothing, only a cursor). */
  changes(since: string | undefined, limit: number): Promise<ChangeSet>;
}

/** One shard as its consumer sees it: how far behind the tip, null where the target cannot tell per shard. */
export interface ShardGauge {
  readonly shardId: string;
  /** Age of the oldest record not yet acknowledged (0 when caught up). */
  readonly lagMs: number | null;
  /** Records after the consumer's checkpoint, counted up to {@link PENDING_COUNT_CAP}. */
  readonly pending: number | null;
}

/**
 * Counting what is left in a shard means reading it; past this many records the count stops
 * (a figure equal to the cap means "at least"), so a health poll never reads a whole backlog.
 */
export const PENDING_COUNT_CAP = 10_000;

export interface StreamGauge {
  /**
   * The consumer's iterator age: the oldest unprocessed record's age, over all shards (locally
   * the largest shard lag; on AWS the validator's `IteratorAge` maximum from CloudWatch).
   */
  readonly iteratorAgeMs: number | null;
  readonly shards: readonly ShardGauge[];
}

export interface QueueGauge {
  readonly name: string;
  readonly visible: number;
  readonly inFlight: number;
  readonly dlq: boolean;
}

/**
 * Live figures of the stream and queues, where a target can report them: the local host from its
 * own checkpoints and fauxqs, AWS from SQS, Kinesis and CloudWatch. Null: not reported here.
 */
export interface PipelineGauges {
  stream(): Promise<StreamGauge | null>;
  queues(): Promise<QueueGauge[] | null>;
}

export type TokenScope = 'read' | 'admin';

export interface StoredToken {
  readonly tokenId: string;
  readonly name: string;
  readonly prefix: string;
  readonly scope: TokenScope;
  readonly tokenHash: Uint8Array;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface TokenStore {
  findByHash(hash: Uint8Array): Promise<StoredToken | null>;
  /** Records a use; callers throttle it. */
  touch(tokenId: string): Promise<void>;
  create(token: {
    name: string;
    scope: TokenScope;
    tokenHash: Uint8Array;
    prefix: string;
    expiresAt: string | null;
  }): Promise<StoredToken>;
  list(): Promise<StoredToken[]>;
  /** Revokes by id or by name (active tokens only); resolves with the tokens revoked. */
  revoke(idOrName: string): Promise<StoredToken[]>;
}

/** What the HTTP adapter asks of the use cases (src/pipeline/query-api.ts implements it). */
export interface QueryApi {
  readonly thresholds: StatusThresholds;
  fleet(q: FleetQuery): Promise<FleetReply>;
  sensor(sensorId: string): Promise<SensorReply>;
  readings(sensorId: string, q: ReadingsQuery): Promise<ReadingsReply>;
  windows(sensorId: string, q: WindowsQuery): Promise<WindowsReply>;
  errors(q: ErrorsQuery): Promise<ErrorsReply>;
  dqRuns(q: DqRunsQuery): Promise<DqRunsReply>;
  dqLatest(): Promise<DqLatestReply>;
  health(): Promise<HealthReply>;
  changes(since: string | undefined): Promise<ChangesReply>;
}

/** Token use cases as the HTTP adapter needs them (src/pipeline/api-tokens.ts). */
export interface TokenApi {
  authenticate(token: string | undefined, scope: TokenScope): Promise<'ok' | 'unauthenticated' | 'forbidden'>;
  create(request: {
    name: string;
    scope: TokenScope;
    expiresInDays?: number | undefined;
  }): Promise<{ token: string; info: TokenInfo }>;
  list(): Promise<TokenInfo[]>;
  revoke(idOrName: string): Promise<TokenInfo[]>;
}
