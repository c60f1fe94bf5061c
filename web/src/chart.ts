/**
 * The two charts, on uPlot (about 20 KB gzipped): a sensor's min/avg/max band with its alerts,
 * and rejected records per type. Times are shown in UTC, as the API aligns its buckets to UTC.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { BandSeries, ErrorSeries } from './chart-data.js';
import type { AlertSummary } from './types.js';

const utc = (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');

const DAY = 86_400;

/** Tick labels in UTC, 24-hour: times within a day, dates and times within a week, dates beyond. */
function timeTicks(u: uPlot, ticks: number[]): string[] {
  const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
  return ticks.map((t) => {
    const iso = new Date(t * 1000).toISOString();
    if (span <= DAY) return iso.slice(11, 16);
    if (span <= 7 * DAY) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
    return iso.slice(5, 10);
  });
}

/** The cursor's time in the legend: the bucket start in UTC. */
const legendTime = (_u: uPlot, t: number | null) =>
  t === null ? '—' : `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const AXIS = {
  stroke: '#94a3b8',
  grid: { stroke: 'rgba(148,163,184,0.12)' },
  ticks: { stroke: 'rgba(148,163,184,0.2)' },
};

/** Colours for error types, in the (sorted) order errorSeries gives them. */
const ERROR_COLOURS = ['#f87171', '#fbbf24', '#a78bfa', '#38bdf8', '#fb923c', '#f472b6', '#4ade80'];

export interface BandChartInput {
  series: BandSeries;
  unit: string;
  alerts: readonly AlertSummary[];
  lastBefore: { value: number; eventTime: string } | null;
  fromSec: number;
  toSec: number;
}

/** Shades the time during which an alert was open, under the lines. */
function drawAlertPeriods(u: uPlot, alerts: readonly AlertSummary[], toSec: number): void {
  const { ctx } = u;
  const { top, height } = u.bbox;
  ctx.save();
  for (const alert of alerts) {
    const x0 = u.valToPos(Date.parse(alert.openedAt) / 1000, 'x', true);
    const x1 = u.valToPos(alert.closedAt ? Date.parse(alert.closedAt) / 1000 : toSec, 'x', true);
    const left = Math.max(x0, u.bbox.left);
    const right = Math.min(x1, u.bbox.left + u.bbox.width);
    if (right <= left) continue;
    ctx.fillStyle = alert.kind === 'high' ? 'rgba(248,113,113,0.10)' : 'rgba(56,189,248,0.10)';
    ctx.fillRect(left, top, right - left, height);
  }
  ctx.restore();
}

/** A dashed line at the last value before the range, from the left edge to the first bucket with data. */
function drawLastBefore(u: uPlot, input: BandChartInput): void {
  if (!input.lastBefore) return;
  const firstIndex = input.series.avg.findIndex((v) => v !== null);
  const endSec = firstIndex >= 0 ? (input.series.xs[firstIndex] as number) : input.toSec;
  const y = u.valToPos(input.lastBefore.value, 'y', true);
  const x0 = u.bbox.left;
  const x1 = u.valToPos(endSec, 'x', true);
  const { ctx } = u;
  ctx.save();
  ctx.strokeStyle = '#cbd5e1';
  ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
  ctx.lineWidth = devicePixelRatio;
  ctx.beginPath();
  ctx.moveTo(x0, y);
  ctx.lineTo(Math.max(x0, x1), y);
  ctx.stroke();
  ctx.restore();
}

export function bandChart(target: HTMLElement, input: BandChartInput): uPlot {
  const { series } = input;
  const lastValue = input.lastBefore ? [input.lastBefore.value] : [];
  const values = [...series.min, ...series.max, ...lastValue].filter((v): v is number => v !== null);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
  const options: uPlot.Options = {
    width: Math.max(320, target.clientWidth),
    height: 320,
    tzDate: utc,
    cursor: { points: { size: 7 } },
    legend: { live: true },
    scales: { x: { time: true, min: input.fromSec, max: input.toSec }, y: { range: [lo - pad, hi + pad] } },
    axes: [
      { ...AXIS, values: timeTicks },
      { ...AXIS, size: 72, values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)} ${input.unit}`) },
    ],
    series: [
      { label: 'bucket', value: legendTime },
      { label: 'min', stroke: 'rgba(96,165,250,0.55)', width: 1, points: { show: false } },
      { label: 'avg', stroke: '#60a5fa', width: 2 },
      { label: 'max', stroke: 'rgba(96,165,250,0.55)', width: 1, points: { show: false } },
      {
        label: 'high alert',
        stroke: '#f87171',
        fill: '#f87171',
        paths: () => null,
        points: { show: true, size: 8, fill: '#f87171' },
      },
      {
        label: 'low alert',
        stroke: '#38bdf8',
        fill: '#38bdf8',
        paths: () => null,
        points: { show: true, size: 8, fill: '#38bdf8' },
      },
    ],
    bands: [{ series: [3, 1], fill: 'rgba(96,165,250,0.18)' }],
    hooks: {
      drawClear: [(u) => drawAlertPeriods(u, input.alerts, input.toSec)],
      draw: [(u) => drawLastBefore(u, input)],
    },
  };
  return new uPlot(options, [series.xs, series.min, series.avg, series.max, series.high, series.low], target);
}

/**
 * Rejected records per type as stacked bars. uPlot has no stacking of its own: series i carries
 * the sum of types i..n-1, drawn widest first, so the visible part of each bar is its own type's
 * count; the legend shows that count, not the running sum.
 */
export function errorChart(target: HTMLElement, input: ErrorSeries, fromSec: number, toSec: number): uPlot {
  const bars = uPlot.paths.bars?.({ size: [0.8, 40], gap: 1 });
  const stacked = input.counts.map((_, i) =>
    input.xs.map((_x, idx) => input.counts.slice(i).reduce((sum, column) => sum + (column[idx] ?? 0), 0)),
  );
  const options: uPlot.Options = {
    width: Math.max(320, target.clientWidth),
    height: 260,
    tzDate: utc,
    scales: {
      x: { time: true, min: fromSec, max: toSec },
      y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
    },
    axes: [
      { ...AXIS, values: timeTicks },
      { ...AXIS, size: 48 },
    ],
    series: [
      { label: 'bucket', value: legendTime },
      ...input.types.map((type, i): uPlot.Series => {
        const colour = ERROR_COLOURS[i % ERROR_COLOURS.length] as string;
        return {
          label: type,
          stroke: colour,
          fill: colour,
          width: 0,
          paths: bars,
          points: { show: false },
          value: (_u, _v, _s, idx) => (idx === null ? '—' : String(input.counts[i]?.[idx] ?? 0)),
        };
      }),
    ],
  };
  return new uPlot(options, [input.xs, ...stacked], target);
}

/** Keeps a chart as wide as its container. Returns the function that stops watching. */
export function followWidth(chart: uPlot, container: HTMLElement): () => void {
  const observer = new ResizeObserver(() => {
    const width = Math.max(320, container.clientWidth);
    if (Math.abs(width - chart.width) > 2) chart.setSize({ width, height: chart.height });
  });
  observer.observe(container);
  return () => observer.disconnect();
}
