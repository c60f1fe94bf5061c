/** What the fleet grid shows for a filter: pure, so the rules are tested without a browser. */
import type { FleetSensor, SensorStatus } from './types.js';

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
