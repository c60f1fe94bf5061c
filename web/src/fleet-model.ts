/** What the fleet grid shows for a filter: pure, so the rules are tested without a browser. */
import type { ChangesReply, FleetSensor, SensorStatus, StatusThresholds } from './types.js';

export interface FleetFilter {
  q: string;
  status: SensorStatus | null;
  type: string | null;
  alerts: boolean;
}

export interface FleetSummary {
  total: number;
  ok: number;
  stale: number;
  offline: number;
  alerting: number;
  types: string[];
}

/** Sensors matching the filter; the search matches the id, type or unit, ignoring case. */
export function filterFleet(sensors: readonly FleetSensor[], filter: FleetFilter): FleetSensor[] {
  const q = filter.q.trim().toLowerCase();
  return sensors.filter(
    (s) =>
      (!filter.status || s.status === filter.status) &&
      (!filter.type || s.sensorType === filter.type) &&
      (!filter.alerts || s.openAlerts.length > 0) &&
      (!q || s.sensorId.toLowerCase().includes(q) || s.sensorType.toLowerCase().includes(q)),
  );
}

export function summarize(sensors: readonly FleetSensor[]): FleetSummary {
  const summary: FleetSummary = { total: sensors.length, ok: 0, stale: 0, offline: 0, alerting: 0, types: [] };
  const types = new Set<string>();
  for (const s of sensors) {
    summary[s.status]++;
    if (s.openAlerts.length > 0) summary.alerting++;
    types.add(s.sensorType);
  }
  summary.types = [...types].sort();
  return summary;
}

const collator = new Intl.Collator('en', { numeric: true });

/** Sensor ids in natural order ("t-2" before "t-10"). */
export function sortFleet(sensors: FleetSensor[]): FleetSensor[] {
  return sensors.sort((a, b) => collator.compare(a.sensorId, b.sensorId));
}

/** ok up to staleAfter, stale up to offlineAfter, offline beyond: the API's rule, applied as time passes. */
export function statusAt(lastSeen: string, nowMs: number, t: StatusThresholds): SensorStatus {
  const age = nowMs - Date.parse(lastSeen);
  if (age <= t.staleAfterSeconds * 1000) return 'ok';
  if (age <= t.offlineAfterSeconds * 1000) return 'stale';
  return 'offline';
}

/**
 * Applies one /api/changes reply to the fleet in place: new latest values and alert changes.
 * Returns false when the reply cannot be applied (a sensor the page has never seen, or a
 * truncated reply): the caller then reloads the whole fleet.
 */
export function applyChanges(byId: ReadonlyMap<string, FleetSensor>, changes: ChangesReply): boolean {
  if (changes.truncated) return false;
  if (changes.sensors.some((c) => !byId.has(c.sensorId))) return false;
  for (const change of changes.sensors) {
    const sensor = byId.get(change.sensorId) as FleetSensor;
    if (Date.parse(change.lastSeen) < Date.parse(sensor.lastSeen)) continue;
    sensor.lastSeen = change.lastSeen;
    sensor.latest = {
      ...sensor.latest,
      value: change.value,
      eventTime: change.lastSeen,
      highAlert: change.highAlert,
      lowAlert: change.lowAlert,
    };
  }
  for (const alert of changes.alerts) {
    const sensor = byId.get(alert.sensorId);
    if (!sensor) continue;
    sensor.openAlerts = sensor.openAlerts.filter((a) => a.alertId !== alert.alertId);
    if (alert.closedAt === null) sensor.openAlerts.push(alert);
  }
  return true;
}
