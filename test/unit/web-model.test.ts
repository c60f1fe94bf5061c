/** The dashboard's pure rules: URL state, chart columns with gaps, fleet filtering and formatting. */
import { describe, expect, it } from 'vitest';
import { bandSeries, errorSeries } from '#web/src/chart-data.js';
import { applyChanges, filterFleet, sortFleet, statusAt, summarize } from '#web/src/fleet-model.js';
import { formatAge, formatValue } from '#web/src/format.js';
import { cleanToken } from '#web/src/token-text.js';
import type { AlertSummary, ChangesReply, FleetSensor, WindowBucket } from '#web/src/types.js';
import { appUrl, DEFAULT_VIEW, formatView, parseView, stepFor, type View } from '#web/src/url-state.js';

describe('view state in the URL', () => {
  const views: View[] = [
    DEFAULT_VIEW,
    { view: 'fleet', q: 'temp 1', status: 'stale', type: 'humidity', alerts: true },
    { view: 'sensor', sensor: 'temp/0001 & co', range: '7d', step: '1h' },
    { view: 'sensor', sensor: 'hum-1', range: '24h', step: null },
    { view: 'errors', range: '6h', step: null, type: 'BELOW_MIN' },
    { view: 'quality' },
    { view: 'health' },
  ];

  it.each(views)('reads back what it wrote: %o', (view) => {
    expect(parseView(formatView(view))).toEqual(view);
  });

  it('keeps the default view out of the link', () => {
    expect(formatView(DEFAULT_VIEW)).toBe('');
  });

  it('falls back to defaults for unknown or malformed values instead of failing', () => {
    expect(parseView('?view=sensor')).toEqual(DEFAULT_VIEW);
    expect(parseView('?view=nope&status=purple')).toEqual(DEFAULT_VIEW);
    expect(parseView('?view=sensor&sensor=a&range=99y&step=7s')).toEqual({
      view: 'sensor',
      sensor: 'a',
      range: '1h',
      step: null,
    });
    expect(parseView('?view=errors&range=99y')).toMatchObject({ range: '24h' });
  });

  it('picks a step per range when the link names none', () => {
    expect(stepFor('1h', null)).toBe('1m');
    expect(stepFor('30d', null)).toBe('1d');
    expect(stepFor('30d', '1h')).toBe('1h');
  });
});

describe('band series', () => {
  const from = Date.parse('2026-11-29T10:00:00Z');
  const at = (minute: number) => new Date(from + minute * 60_000).toISOString();
  const bucket = (minute: number, avg: number, extra: Partial<WindowBucket> = {}): WindowBucket => ({
    start: at(minute),
    end: at(minute + 1),
    count: 3,
    avg,
    min: avg - 1,
    max: avg + 1,
    stddev: 0.5,
    highAlertCount: 0,
    lowAlertCount: 0,
    partial: false,
    ...extra,
  });
  const empty = (minute: number): WindowBucket => ({
    ...bucket(minute, 0),
    count: 0,
    avg: null,
    min: null,
    max: null,
    stddev: null,
  });

  it('keeps an empty bucket as null in every column, so the chart breaks there', () => {
    const s = bandSeries([bucket(0, 10), empty(1), empty(2), bucket(3, 12)]);
    expect(s.xs).toEqual([0, 1, 2, 3].map((m) => (from + m * 60_000) / 1000));
    expect(s.avg).toEqual([10, null, null, 12]);
    expect(s.min).toEqual([9, null, null, 11]);
    expect(s.max).toEqual([11, null, null, 13]);
    expect([s.points, s.gaps]).toEqual([2, 2]);
  });

  it('marks alert buckets at their extremes and finds the partial bucket', () => {
    const s = bandSeries([
      bucket(0, 10, { highAlertCount: 2 }),
      bucket(1, 5, { lowAlertCount: 1 }),
      bucket(2, 7, { partial: true }),
    ]);
    expect(s.high).toEqual([11, null, null]);
    expect(s.low).toEqual([null, 4, null]);
    expect(s.partialIndex).toBe(2);
  });

  it('gives every error type a column and zero where a bucket has none of it', () => {
    const s = errorSeries([
      { start: '2026-11-29T10:00:00Z', counts: { NULL_VALUE: 2, ABOVE_MAX: 1 } },
      { start: '2026-11-29T11:00:00Z', counts: { BELOW_MIN: 4 } },
    ]);
    expect(s.types).toEqual(['ABOVE_MAX', 'BELOW_MIN', 'NULL_VALUE']);
    expect(s.counts).toEqual([
      [1, 0],
      [0, 4],
      [2, 0],
    ]);
    expect(s.total).toBe(7);
  });
});

describe('fleet', () => {
  const sensor = (sensorId: string, over: Partial<FleetSensor> = {}): FleetSensor => ({
    sensorId,
    sensorType: 'temperature',
    unit: '°C',
    manufacturer: 'Acme',
    model: 'T-100',
    status: 'ok',
    lastSeen: '2026-11-29T10:00:00.000Z',
    latest: {
      value: 20,
      normalizedValue: 0.48,
      highAlert: false,
      lowAlert: false,
      min: -40,
      max: 85,
      eventTime: '2026-11-29T10:00:00.000Z',
    },
    rejectedLastHour: 0,
    rejectionRateLastHour: 0,
    openAlerts: [],
    ...over,
  });
  const alert = (alertId: number, sensorId: string, closedAt: string | null = null): AlertSummary => ({
    alertId,
    sensorId,
    kind: 'high',
    openedAt: '2026-11-29T09:00:00.000Z',
    closedAt,
    peakValue: 80,
    readingCount: 3,
  });
  const fleet = () =>
    sortFleet([
      sensor('temp-10'),
      sensor('temp-2', { status: 'stale' }),
      sensor('hum-1', { sensorType: 'humidity', status: 'offline' }),
      sensor('temp-3', { openAlerts: [alert(1, 'temp-3')] }),
    ]);
  const changes = (over: Partial<ChangesReply>): ChangesReply => ({
    cursor: '2',
    sensors: [],
    alerts: [],
    dqRuns: [],
    truncated: false,
    ...over,
  });

  it('sorts ids naturally', () => {
    expect(fleet().map((s) => s.sensorId)).toEqual(['hum-1', 'temp-2', 'temp-3', 'temp-10']);
  });

  it('filters by search, status, type and open alerts together', () => {
    const ids = (f: Parameters<typeof filterFleet>[1]) => filterFleet(fleet(), f).map((s) => s.sensorId);
    expect(ids({ q: 'TEMP-1', status: null, type: null, alerts: false })).toEqual(['temp-10']);
    expect(ids({ q: '', status: 'stale', type: null, alerts: false })).toEqual(['temp-2']);
    expect(ids({ q: 'hum', status: null, type: null, alerts: false })).toEqual(['hum-1']);
    expect(ids({ q: '', status: null, type: 'temperature', alerts: true })).toEqual(['temp-3']);
    expect(ids({ q: '', status: 'offline', type: 'temperature', alerts: false })).toEqual([]);
  });

  it('counts statuses and alerting sensors', () => {
    expect(summarize(fleet())).toEqual({
      total: 4,
      ok: 2,
      stale: 1,
      offline: 1,
      alerting: 1,
      types: ['humidity', 'temperature'],
    });
  });

  it('ages a status by the thresholds, boundaries included', () => {
    const t = { staleAfterSeconds: 60, offlineAfterSeconds: 600 };
    const seen = '2026-11-29T10:00:00.000Z';
    const after = (s: number) => Date.parse(seen) + s * 1000;
    expect([0, 60, 61, 600, 601].map((s) => statusAt(seen, after(s), t))).toEqual([
      'ok',
      'ok',
      'stale',
      'stale',
      'offline',
    ]);
  });

  it('applies new readings and alert changes in place, and never goes back in time', () => {
    const sensors = fleet();
    const byId = new Map(sensors.map((s) => [s.sensorId, s]));
    const applied = applyChanges(
      byId,
      changes({
        sensors: [
          { sensorId: 'temp-2', lastSeen: '2026-11-29T10:05:00.000Z', value: 30, highAlert: true, lowAlert: false },
          { sensorId: 'temp-10', lastSeen: '2026-11-29T09:00:00.000Z', value: 99, highAlert: false, lowAlert: false },
        ],
        alerts: [alert(1, 'temp-3', '2026-11-29T10:01:00.000Z'), alert(2, 'temp-2')],
      }),
    );
    expect(applied).toBe(true);
    expect(byId.get('temp-2')).toMatchObject({
      lastSeen: '2026-11-29T10:05:00.000Z',
      latest: { value: 30, highAlert: true },
    });
    expect(byId.get('temp-10')?.latest.value).toBe(20);
    expect(byId.get('temp-3')?.openAlerts).toEqual([]);
    expect(byId.get('temp-2')?.openAlerts.map((a) => a.alertId)).toEqual([2]);
  });

  it('asks for a full reload for an unknown sensor or a truncated reply', () => {
    const byId = new Map(fleet().map((s) => [s.sensorId, s]));
    const newcomer = {
      sensorId: 'new-1',
      lastSeen: '2026-11-29T10:05:00.000Z',
      value: 1,
      highAlert: false,
      lowAlert: false,
    };
    expect(applyChanges(byId, changes({ sensors: [newcomer] }))).toBe(false);
    expect(applyChanges(byId, changes({ truncated: true }))).toBe(false);
  });
});

describe('formatting', () => {
  it('writes values at a precision that suits them', () => {
    expect(formatValue(21.5, '°C')).toBe('21.5 °C');
    expect(formatValue(1013.25, 'hPa')).toBe('1013 hPa');
    expect(formatValue(1000, 'hPa')).toBe('1000 hPa');
    expect(formatValue(0, '%')).toBe('0 %');
    expect(formatValue(null, '%')).toBe('—');
  });

  it('writes ages in the largest whole unit', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(formatAge('2026-11-29T11:59:48Z', now)).toBe('12 s ago');
    expect(formatAge('2026-11-29T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAge('2026-11-28T12:00:00Z', now)).toBe('1 d ago');
    expect(formatAge(null, now)).toBe('never');
  });
});

describe('pasted tokens', () => {
  it.each([
    ['iotf_abc123', 'iotf_abc123'],
    ['  iotf_abc123\n', 'iotf_abc123'],
    ['Bearer iotf_abc123', 'iotf_abc123'],
    ['Authorization: Bearer iotf_abc123', 'iotf_abc123'],
    ['"iotf_abc123",', 'iotf_abc123'],
  ])('reads %j as the token', (pasted, token) => {
    expect(cleanToken(pasted)).toBe(token);
  });
});

describe('app paths resolved against the page', () => {
  it('stays under the page folder: / locally, /<stage>/ behind API Gateway', () => {
    expect(appUrl('/api/health', 'http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/api/health');
    expect(appUrl('/api/health', 'http://127.0.0.1:8080/?view=health')).toBe('http://127.0.0.1:8080/api/health');
    expect(appUrl('/api/sensors?limit=5', 'https://abc.execute-api.eu-west-1.amazonaws.com/v1/?view=fleet')).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com/v1/api/sensors?limit=5',
    );
    expect(appUrl('/api/sensors/a%2Fb', 'http://x.execute-api.localhost.localstack.cloud:4566/v1/')).toBe(
      'http://x.execute-api.localhost.localstack.cloud:4566/v1/api/sensors/a%2Fb',
    );
  });
});
