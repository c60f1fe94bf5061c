/**
 * One sensor: its state, the min/avg/max band over a time range with alerts marked, gaps left
 * as gaps, the last value before the range, and the same numbers as a table.
 */
import type uPlot from 'uplot';
import { ApiProblem, getJson } from '../api.js';
import { bandChart, followWidth } from '../chart.js';
import { type BandSeries, bandSeries } from '../chart-data.js';
import type { ViewContext, ViewController } from '../context.js';
import { h, replaceChildren } from '../dom.js';
import { formatAge, formatTime, formatValue } from '../format.js';
import type { AlertSummary, ChangesReply, SensorReply, Step, WindowsReply } from '../types.js';
import { rangeMs, STEP_MS, STEPS, stepFor, type View } from '../url-state.js';
import { dataTable, rangeButtons } from './controls.js';

type SensorView = Extract<View, { view: 'sensor' }>;

/** Follows the API's cursors so a truncated reply is completed, up to a bound the page keeps. */
async function loadWindows(id: string, from: Date, to: Date, step: Step): Promise<WindowsReply> {
  const base = `/api/sensors/${encodeURIComponent(id)}/windows?from=${from.toISOString()}&to=${to.toISOString()}&step=${step}`;
  const first = await getJson<WindowsReply>(base);
  let reply = first;
  for (let page = 1; page < 20 && reply.truncated && reply.nextCursor; page++) {
    reply = await getJson<WindowsReply>(`${base}&cursor=${encodeURIComponent(reply.nextCursor)}`);
    first.buckets.push(...reply.buckets);
  }
  return { ...first, truncated: reply.truncated, nextCursor: reply.nextCursor };
}

function bucketRows(series: BandSeries, unit: string): HTMLTableRowElement[] {
  return series.xs.map((x, i) => {
    const time = formatTime(new Date(x * 1000).toISOString());
    if (series.avg[i] === null) {
      return h('tr', { class: 'gap', 'data-gap': true }, h('td', {}, time), h('td', { colspan: 4 }, 'no data'));
    }
    const alerts = [series.high[i] !== null ? '▲ high' : '', series.low[i] !== null ? '▼ low' : ''].filter(Boolean);
    return h(
      'tr',
      { class: i === series.partialIndex ? 'partial' : '' },
      h('td', {}, time, i === series.partialIndex ? ' (open minute)' : ''),
      h('td', {}, formatValue(series.min[i], unit)),
      h('td', {}, formatValue(series.avg[i], unit)),
      h('td', {}, formatValue(series.max[i], unit)),
      h('td', {}, alerts.join(' ')),
    );
  });
}

export class SensorController implements ViewController {
  readonly element = h('section', { class: 'sensor' });
  private readonly header = h('div', { class: 'sensor-header' });
  private readonly controls = h('div', { class: 'toolbar' });
  private readonly chartBox = h('div', { class: 'chart', 'data-chart': 'band' });
  private readonly notes = h('div', { class: 'notes' });
  private readonly alertsBox = h('div', { class: 'panel' });
  private readonly table = h('tbody');
  private chart: uPlot | null = null;
  private stopFollowing: () => void = () => undefined;

  constructor(
    private view: SensorView,
    private readonly context: ViewContext,
  ) {
    const back = h('a', { href: '?', class: 'back' }, '← Fleet');
    back.addEventListener('click', (event) => {
      event.preventDefault();
      context.navigate({ view: 'fleet', q: '', status: null, type: null, alerts: false });
    });
    this.element.append(
      back,
      this.header,
      this.controls,
      h('div', { class: 'panel chart-panel' }, this.chartBox, this.notes, legendKey()),
      this.alertsBox,
      h(
        'details',
        { class: 'panel' },
        h('summary', {}, 'The numbers behind the chart'),
        dataTable(['bucket start', 'min', 'avg', 'max', 'alerts'], this.table),
      ),
    );
    this.renderControls();
  }

  update(view: View): boolean {
    if (view.view !== 'sensor' || view.sensor !== this.view.sensor) return false;
    this.view = view;
    this.renderControls();
    void this.refresh(null).catch((error) => this.context.fail(error));
    return true;
  }

  private renderControls(): void {
    const step = stepFor(this.view.range, this.view.step);
    const select = h('select', { 'aria-label': 'Step' });
    for (const s of STEPS) {
      // No step finer than the API's range-to-step cap lets through, or coarser than the range.
      const points = rangeMs(this.view.range) / STEP_MS[s];
      if (points > 1500 || points < 1) continue;
      select.append(h('option', { value: s, selected: s === step }, `step ${s}`));
    }
    select.addEventListener('change', () => this.context.navigate({ ...this.view, step: select.value as Step }));
    replaceChildren(
      this.controls,
      rangeButtons(this.view.range, (range) => this.context.navigate({ ...this.view, range, step: null })),
      select,
    );
  }

  async refresh(changes: ChangesReply | null): Promise<void> {
    const id = this.view.sensor;
    if (changes && !changes.sensors.some((c) => c.sensorId === id) && !changes.alerts.some((a) => a.sensorId === id))
      return;
    let detail: SensorReply;
    try {
      detail = await getJson<SensorReply>(`/api/sensors/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error instanceof ApiProblem && error.status === 404) {
        replaceChildren(
          this.header,
          h('h2', {}, this.view.sensor),
          h('p', { class: 'empty' }, 'No sensor with this id.'),
        );
        return;
      }
      throw error;
    }
    const step = stepFor(this.view.range, this.view.step);
    const to = new Date();
    const from = new Date(to.getTime() - rangeMs(this.view.range));
    const windows = await loadWindows(this.view.sensor, from, to, step);
    this.renderHeader(detail);
    this.renderChart(detail, windows, from, to, step);
    this.renderAlerts(detail.recentAlerts, detail.sensor.unit);
  }

  private renderHeader(reply: SensorReply): void {
    const d = reply.sensor;
    const now = Date.parse(reply.generatedAt);
    const facts: [string, string][] = [
      ['type', d.sensorType],
      ['latest', formatValue(d.latest.value, d.unit)],
      ['last seen', `${formatAge(d.lastSeen, now)} (${formatTime(d.lastSeen)})`],
      ['valid range', `${formatValue(d.latest.min, d.unit)} … ${formatValue(d.latest.max, d.unit)}`],
      ['device', `${d.manufacturer} ${d.model}`],
    ];
    if (d.rejectedLastHour > 0) facts.push(['rejected last hour', String(d.rejectedLastHour)]);
    replaceChildren(
      this.header,
      h('h2', {}, h('span', { class: `pill status-${d.status}`, 'data-status': d.status }, d.status), ' ', d.sensorId),
      h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    );
  }

  private renderChart(reply: SensorReply, w: WindowsReply, from: Date, to: Date, step: Step): void {
    const series = bandSeries(w.buckets);
    this.chartBox.dataset.points = String(series.points);
    this.chartBox.dataset.gaps = String(series.gaps);
    this.chartBox.dataset.buckets = String(series.xs.length);
    this.stopFollowing();
    this.chart?.destroy();
    this.chartBox.textContent = '';
    const unit = reply.sensor.unit;
    this.chart = bandChart(this.chartBox, {
      series,
      unit,
      alerts: w.alerts,
      lastBefore: w.lastBefore,
      fromSec: from.getTime() / 1000,
      toSec: to.getTime() / 1000,
    });
    // The chart instance on its element, for the browser console and the browser tests.
    Object.assign(this.chartBox, { uplot: this.chart });
    this.stopFollowing = followWidth(this.chart, this.chartBox);
    const notes: (string | HTMLElement)[] = [
      `${series.points} of ${series.xs.length} ${step} buckets hold readings`,
      series.gaps ? `${series.gaps} without data (drawn as gaps)` : '',
      w.lastBefore
        ? h(
            'span',
            { 'data-last-before': true },
            `last value before this range: ${formatValue(w.lastBefore.value, unit)} at ${formatTime(w.lastBefore.eventTime)}`,
          )
        : series.points === 0
          ? 'no reading before this range either'
          : '',
      w.truncated ? h('strong', {}, 'the API truncated this range: choose a coarser step to see all of it') : '',
    ].filter(Boolean);
    replaceChildren(this.notes, ...notes.flatMap((n, i) => (i ? [' · ', n] : [n])));
    replaceChildren(this.table, ...bucketRows(series, unit));
  }

  private renderAlerts(alerts: readonly AlertSummary[], unit: string): void {
    const rows = alerts.map((a) =>
      h(
        'li',
        { class: `alert-${a.kind}${a.closedAt ? '' : ' open'}` },
        `${a.kind === 'high' ? '▲ high' : '▼ low'} alert, opened ${formatTime(a.openedAt)} `,
        `(${a.readingCount} readings, peak ${formatValue(a.peakValue, unit)})`,
        a.closedAt ? `, closed ${formatTime(a.closedAt)}` : ', still open',
      ),
    );
    replaceChildren(
      this.alertsBox,
      h('h3', {}, 'Alerts'),
      rows.length ? h('ul', { class: 'alerts' }, ...rows) : h('p', { class: 'muted' }, 'No alert on this sensor.'),
    );
  }

  destroy(): void {
    this.stopFollowing();
    this.chart?.destroy();
  }
}

function legendKey(): HTMLElement {
  return h(
    'p',
    { class: 'muted key' },
    'Band: min to max of each bucket; line: average; red and blue dots: buckets with high or low alert readings; ',
    'shaded: while an alert was open; dashed: the last value before the range; a break in the line: no data.',
  );
}
