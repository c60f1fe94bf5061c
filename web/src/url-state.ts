/**
 * The view's state lives in the URL's query string, so a link shows the same view to whoever
 * opens it (after they give their own token; the token is never part of the URL). Pure: no DOM.
 */
import type { SensorStatus, Step } from './types.js';

export const RANGES = ['1h', '6h', '24h', '7d', '30d'] as const;
export type Range = (typeof RANGES)[number];
export const STEPS: readonly Step[] = ['1m', '5m', '15m', '1h', '1d'];
export const STATUSES: readonly SensorStatus[] = ['ok', 'stale', 'offline'];

export type View =
  | { view: 'fleet'; q: string; status: SensorStatus | null; type: string | null; alerts: boolean }
  | { view: 'sensor'; sensor: string; range: Range; step: Step | null }
  | { view: 'errors'; range: Range; step: Step | null; type: string | null }
  | { view: 'quality' }
  | { view: 'health' };

export const SENSOR_RANGE: Range = '1h';

export const DEFAULT_VIEW: View = { view: 'fleet', q: '', status: null, type: null, alerts: false };

const RANGE_MS: Record<Range, number> = {
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};

export const STEP_MS: Record<Step, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

/** The step chosen when the link names none: between about 30 and 170 points for each range. */
const DEFAULT_STEP: Record<Range, Step> = { '1h': '1m', '6h': '5m', '24h': '15m', '7d': '1h', '30d': '1d' };

export function rangeMs(range: Range): number {
  return RANGE_MS[range];
}

export function stepFor(range: Range, step: Step | null): Step {
  return step ?? DEFAULT_STEP[range];
}

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | null {
  return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : null;
}

/** Reads a view from a query string; anything unknown or malformed falls back to a default. */
export function parseView(search: string): View {
  const p = new URLSearchParams(search);
  const range = oneOf(p.get('range'), RANGES);
  const step = oneOf(p.get('step'), STEPS);
  switch (p.get('view')) {
    case 'sensor': {
      const sensor = p.get('sensor');
      if (!sensor) return DEFAULT_VIEW;
      // The last hour by default: a stack started minutes ago has nothing to show over a day.
      return { view: 'sensor', sensor, range: range ?? SENSOR_RANGE, step };
    }
    case 'errors':
      return { view: 'errors', range: range ?? '24h', step, type: p.get('type') || null };
    case 'quality':
      return { view: 'quality' };
    case 'health':
      return { view: 'health' };
    default:
      return {
        view: 'fleet',
        q: p.get('q') ?? '',
        status: oneOf(p.get('status'), STATUSES),
        type: p.get('type') || null,
        alerts: p.get('alerts') === '1',
      };
  }
}

/** The query string for a view (without defaults, so links stay short). */
export function formatView(view: View): string {
  const p = new URLSearchParams();
  if (view.view !== 'fleet') p.set('view', view.view);
  switch (view.view) {
    case 'fleet':
      if (view.q) p.set('q', view.q);
      if (view.status) p.set('status', view.status);
      if (view.type) p.set('type', view.type);
      if (view.alerts) p.set('alerts', '1');
      break;
    case 'sensor':
      p.set('sensor', view.sensor);
      p.set('range', view.range);
      if (view.step) p.set('step', view.step);
      break;
    case 'errors':
      p.set('range', view.range);
      if (view.step) p.set('step', view.step);
      if (view.type) p.set('type', view.type);
      break;
    default:
      break;
  }
  const query = p.toString();
  return query ? `?${query}` : '';
}

/**
 * Where a request for an app path (`/api/health`) goes, resolved against the page's own URL: the
 * app is served at `/` by `npm start` and at `/<stage>/` behind API Gateway, so an absolute path
 * would leave the stage and miss the API there.
 */
export function appUrl(path: string, pageUrl: string): string {
  return new URL(path.replace(/^\/+/, ''), pageUrl).toString();
}
