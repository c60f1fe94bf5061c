/** Rejected records: counts per error type over time, and the latest rows with their reasons. */
import type uPlot from 'uplot';
import { getJson } from '../api.js';
import { errorChart, followWidth } from '../chart.js';
import { errorSeries } from '../chart-data.js';
import type { ViewContext, ViewController } from '../context.js';
import { h, replaceChildren } from '../dom.js';
import { formatTime } from '../format.js';
import type { ChangesReply, ErrorsReply } from '../types.js';
import { rangeMs, stepFor, type View } from '../url-state.js';
import { dataTable, rangeButtons } from './controls.js';

type ErrorsView = Extract<View, { view: 'errors' }>;

export class ErrorsController implements ViewController {
  readonly element = h('section', { class: 'errors' });
  private readonly controls = h('div', { class: 'toolbar' });
  private readonly chartBox = h('div', { class: 'chart', 'data-chart': 'errors' });
  private readonly totals = h('div', { class: 'summary' });
  private readonly rows = h('tbody');
  private chart: uPlot | null = null;
  private stopFollowing: () => void = () => undefined;
  private loadedAt = 0;

  constructor(
    private view: ErrorsView,
    private readonly context: ViewContext,
  ) {
    this.element.append(
      h('h2', {}, 'Rejected records'),
      this.controls,
      this.totals,
      h('div', { class: 'panel chart-panel' }, this.chartBox),
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, 'Latest rejected records'),
        dataTable(['time', 'type', 'sensor', 'reason', 'record'], this.rows),
      ),
    );
    this.renderControls();
  }

  update(view: View): boolean {
    if (view.view !== 'errors') return false;
    this.view = view;
    this.renderControls();
    void this.refresh(null).catch((error) => this.context.fail(error));
    return true;
  }

  private renderControls(): void {
    replaceChildren(
      this.controls,
      rangeButtons(this.view.range, (range) => this.context.navigate({ ...this.view, range, step: null })),
    );
  }

  async refresh(changes: ChangesReply | null): Promise<void> {
    // Rejections are not part of /api/changes: a live round that brought news reloads the counts,
    // at most every 15 s (a range of counts is a heavier read than the fleet's changes).
    if (changes && Date.now() - this.loadedAt < 15_000) return;
    this.loadedAt = Date.now();
    const step = stepFor(this.view.range, this.view.step);
    const to = new Date();
    const from = new Date(to.getTime() - rangeMs(this.view.range));
    const type = this.view.type ? `&type=${encodeURIComponent(this.view.type)}` : '';
    const reply = await getJson<ErrorsReply>(
      `/api/errors?from=${from.toISOString()}&to=${to.toISOString()}&step=${step}&limit=50${type}`,
    );
    const series = errorSeries(reply.buckets);
    this.renderTotals(series.types, series.counts);
    this.stopFollowing();
    this.chart?.destroy();
    this.chartBox.textContent = '';
    this.chartBox.dataset.total = String(series.total);
    if (series.total === 0) {
      this.chartBox.append(h('p', { class: 'empty' }, 'No record was rejected in this range.'));
    } else {
      this.chart = errorChart(this.chartBox, series, from.getTime() / 1000, to.getTime() / 1000);
      this.stopFollowing = followWidth(this.chart, this.chartBox);
    }
    replaceChildren(
      this.rows,
      ...reply.rows.map((row) =>
        h(
          'tr',
          {},
          h('td', { class: 'nowrap' }, formatTime(row.errorTime)),
          h('td', {}, h('span', { class: 'tag' }, row.errorType)),
          h('td', { class: 'nowrap' }, row.sensorId ?? '—'),
          h('td', {}, row.errorMessage),
          h('td', { class: 'raw' }, h('code', {}, (row.rawText ?? '').slice(0, 160))),
        ),
      ),
    );
  }

  /** Chips with each type's total; clicking one filters the view to that type (and back). */
  private renderTotals(types: string[], counts: number[][]): void {
    replaceChildren(
      this.totals,
      ...types.map((type, i) => {
        const total = (counts[i] ?? []).reduce((a, b) => a + b, 0);
        const active = this.view.type === type;
        return h(
          'button',
          {
            type: 'button',
            class: `chip${active ? ' active' : ''}`,
            onclick: () => this.context.navigate({ ...this.view, type: active ? null : type }),
          },
          h('span', { class: 'chip-count' }, total.toLocaleString('en')),
          ` ${type}`,
        );
      }),
    );
  }

  destroy(): void {
    this.stopFollowing();
    this.chart?.destroy();
  }
}
