/**
 * The JSON the page reads from the query API (issue 10). Kept in one file so a change of the
 * API's shapes is one edit here; the page never reads a field that is not declared below.
 */

export type SensorStatus = 'ok' | 'stale' | 'offline';
export type Step = '1m' | '5m' | '15m' | '1h' | '1d';

export interface OpenAlert {
  id: string | number;
  kind: 'high' | 'low';
  openedAt: string;
}

export interface FleetSensor {
  sensorId: string;
  sensorType: string;
  unit: string | null;
  status: SensorStatus;
  lastSeen: string | null;
  latestValue: number | null;
  errorsLastHour: number;
  errorRateLastHour: number;
  openAlerts: OpenAlert[];
}

export interface FleetPage {
  items: FleetSensor[];
  nextCursor: string | null;
}

/** One bucket of /windows; null when the bucket holds no reading. */
export interface WindowBucket {
  start: string;
  count: number;
  avg: number;
  min: number;
  max: number;
  stddev: number | null;
  highAlertCount: number;
  lowAlertCount: number;
  partial?: boolean;
}

export interface WindowsReply {
  sensorId: string;
  from: string;
  to: string;
  step: Step;
  truncated: boolean;
  nextCursor: string | null;
  /** The last reading before `from`, so a quiet sensor still shows its value. */
  lastBefore: { value: number; time: string } | null;
  /** One entry per bucket, in time order; an empty bucket is an explicit null entry. */
  buckets: Array<(WindowBucket & { start: string }) | { start: string; empty: true }>;
}

export interface AlertRecord {
  id: string | number;
  kind: 'high' | 'low';
  openedAt: string;
  closedAt: string | null;
}

export interface SensorDetail {
  sensorId: string;
  sensorType: string;
  unit: string | null;
  status: SensorStatus;
  lastSeen: string | null;
  latestValue: number | null;
  manufacturer?: string | null;
  model?: string | null;
  min?: number | null;
  max?: number | null;
  alerts: AlertRecord[];
}

export interface ErrorBucket {
  start: string;
  counts: Record<string, number>;
}

export interface ErrorRow {
  errorType: string;
  errorMessage: string;
  sensorId: string | null;
  errorTime: string;
  rawText: string | null;
}

export interface ErrorsReply {
  step: Step;
  truncated: boolean;
  nextCursor: string | null;
  buckets: ErrorBucket[];
  items: ErrorRow[];
}

export interface DqCheck {
  checkFile: string;
  checkName: string;
  tableName: string | null;
  metric: string;
  value: number | null;
  outcome: 'pass' | 'warn' | 'fail' | 'error';
  thresholds: string;
  error: string | null;
}

export interface DqRun {
  runId: string;
  startedAt: string;
  outcome: 'pass' | 'warn' | 'fail' | 'error';
  checks: DqCheck[];
}

export interface HealthReply {
  shards: Array<{ shardId: string; iteratorAgeMs: number | null; late: boolean }>;
  queues: Array<{ name: string; depth: number | null; dlq: boolean; late: boolean }>;
  aggregator: { lastRunAt: string | null; late: boolean };
  dq: { lastRunAt: string | null; late: boolean; outcome?: string | null };
}

export interface ChangesReply {
  cursor: string;
  sensors: string[];
  alertsOpened: number;
  alertsClosed: number;
  dqRuns: number;
}
