/**
 * The JSON the page reads from the query API: the reply shapes of `src/domain/api.ts` (the zod
 * schemas the API validates and documents with), restated for the browser because that module
 * is Node code. Only the fields the page reads are declared; a change of the API's shapes is one
 * edit here, and the browser tests run the page against the real API.
 */

export type SensorStatus = 'ok' | 'stale' | 'offline';
export type Step = '1m' | '5m' | '15m' | '1h' | '1d';
export type Outcome = 'pass' | 'warn' | 'fail' | 'error';

export interface AlertSummary {
  alertId: number;
  sensorId: string;
  kind: 'high' | 'low';
  openedAt: string;
  closedAt: string | null;
  peakValue: number;
  readingCount: number;
}

export interface FleetSensor {
  sensorId: string;
  sensorType: string;
  unit: string;
  manufacturer: string;
  model: string;
  status: SensorStatus;
  lastSeen: string;
  latest: {
    value: number;
    normalizedValue: number;
    highAlert: boolean;
    lowAlert: boolean;
    min: number;
    max: number;
    eventTime: string;
  };
  rejectedLastHour: number;
  rejectionRateLastHour: number | null;
  openAlerts: AlertSummary[];
}

export interface StatusThresholds {
  staleAfterSeconds: number;
  offlineAfterSeconds: number;
}

export interface FleetReply {
  generatedAt: string;
  thresholds: StatusThresholds;
  sensors: FleetSensor[];
  truncated: boolean;
  nextCursor: string | null;
}

export interface SensorReply {
  generatedAt: string;
  thresholds: StatusThresholds;
  sensor: FleetSensor;
  recentAlerts: AlertSummary[];
}

/** One bucket of /windows; an empty bucket has count 0 and null statistics. */
export interface WindowBucket {
  start: string;
  end: string;
  count: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  stddev: number | null;
  highAlertCount: number;
  lowAlertCount: number;
  partial: boolean;
}

export interface WindowsReply {
  sensorId: string;
  step: Step;
  from: string;
  to: string;
  buckets: WindowBucket[];
  /** The newest reading before `from`, so a quiet sensor still shows its value. */
  lastBefore: { eventTime: string; value: number } | null;
  alerts: AlertSummary[];
  truncated: boolean;
  nextCursor: string | null;
}

export interface ErrorBucket {
  start: string;
  total?: number;
  counts: Record<string, number>;
}

export interface ErrorRow {
  errorType: string;
  errorMessage: string;
  sensorId: string | null;
  rawText: string | null;
  rawSize: number;
  errorTime: string;
}

export interface ErrorsReply {
  step: Step;
  from: string;
  to: string;
  buckets: ErrorBucket[];
  rows: ErrorRow[];
  truncated: boolean;
  nextCursor: string | null;
}

export interface DqCheck {
  file: string;
  line: number;
  name: string;
  table: string | null;
  metric: string;
  value: number | null;
  outcome: Outcome;
  thresholds: string;
  error: string | null;
}

export interface DqRun {
  runId: string;
  startedAt: string;
  checkedAt: string;
  passed: number;
  warned: number;
  failed: number;
  errored: number;
  outcome: Outcome;
  checks: DqCheck[];
}

export interface DqLatestReply {
  run: DqRun | null;
}

export interface HealthReply {
  generatedAt: string;
  database: { ok: boolean };
  aggregator: { lastRunAt: string | null; late: boolean; pendingWindows: number; oldestPendingWindow: string | null };
  dq: { lastRunAt: string | null; late: boolean; outcome: string | null };
  stream: { iteratorAgeMs: number | null; late: boolean } | null;
  shards: Array<{ shardId: string; lagMs: number | null; pending: number | null; late: boolean }> | null;
  queues: Array<{ name: string; visible: number; inFlight: number; dlq: boolean; late: boolean }> | null;
}

export interface SensorChange {
  sensorId: string;
  lastSeen: string;
  value: number;
  highAlert: boolean;
  lowAlert: boolean;
}

export interface ChangesReply {
  cursor: string;
  sensors: SensorChange[];
  alerts: AlertSummary[];
  dqRuns: unknown[];
  /** More changed than one reply carries: reload everything. */
  truncated: boolean;
}
