/**
 * The fleet grid: one tile per sensor with its status colour, latest value, age and open
 * alerts. Built for 1,000 sensors and more: tiles are keyed by sensor id and patched in place
 * (only changed text is written), a filter change re-orders existing nodes instead of building
 * new ones, and `content-visibility: auto` (styles.css) lets the browser skip off-screen tiles.
 */
import { getJson } from '../api.js';
import type { ViewContext, ViewController } from '../context.js';
import { h, replaceChildren, setText } from '../dom.js';
import { applyChanges, filterFleet, sortFleet, statusAt, summarize } from '../fleet-model.js';
import { formatAge, formatRate, formatValue } from '../format.js';
import type { ChangesReply, FleetReply, FleetSensor, StatusThresholds } from '../types.js';
import { formatView, SENSOR_RANGE, STATUSES, type View } from '../url-state.js';

type FleetView = Extract<View, { view: 'fleet' }>;

interface Tile {
  root: HTMLAnchorElement;
  value: HTMLElement;
  meta: HTMLElement;
  alerts: HTMLElement;
  signature: string;
}

/** A full reload after this long even when changes could be applied, as a safety net. */
const FULL_RELOAD_MS = 60_000;

interface Fleet {
  sensors: FleetSensor[];
  thresholds: StatusThresholds;
  /** Server clock minus browser clock, so statuses age by the server's time. */
  clockOffsetMs: number;
}

/** Every page of /api/sensors (one page holds up to 10,000 sensors; the cursor covers more). */
export async function loadFleet(): Promise<Fleet> {
  const sensors: FleetSensor[] = [];
  let cursor: string | null = null;
  let first: FleetReply | null = null;
  for (let page = 0; page < 100; page++) {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const reply: FleetReply = await getJson<FleetReply>(`/api/sensors?limit=10000${query}`);
    first ??= reply;
    sensors.push(...reply.sensors);
    cursor = reply.nextCursor;
    if (!cursor) break;
  }
  const reply = first as FleetReply;
  return {
    sensors: sortFleet(sensors),
    thresholds: reply.thresholds,
    clockOffsetMs: Date.parse(reply.generatedAt) - Date.now(),
  };
}

function alertText(sensor: FleetSensor): string {
  const high = sensor.openAlerts.filter((a) => a.kind === 'high').length;
  const low = sensor.openAlerts.length - high;
  return [high ? `▲ high${high > 1 ? ` ×${high}` : ''}` : '', low ? `▼ low${low > 1 ? ` ×${low}` : ''}` : '']
    .filter(Boolean)
    .join(' ');
}

function newTile(sensor: FleetSensor, context: ViewContext): Tile {
  const value = h('div', { class: 'tile-value' });
  const meta = h('div', { class: 'tile-meta' });
  const alerts = h('span', { class: 'tile-alerts' });
  const view: View = { view: 'sensor', sensor: sensor.sensorId, range: SENSOR_RANGE, step: null };
  const root = h(
    'a',
    {
      class: 'tile',
      href: formatView(view) || '?',
      'data-sensor-id': sensor.sensorId,
      onclick: ((event: MouseEvent) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        context.navigate(view);
      }) as EventListener,
    },
    h(
      'div',
      { class: 'tile-head' },
      h('span', { class: 'dot' }),
      h('span', { class: 'tile-id' }, sensor.sensorId),
      alerts,
    ),
    value,
    meta,
  );
  return { root, value, meta, alerts, signature: '' };
}

/** Writes only what changed since the tile was last drawn. */
function patchTile(tile: Tile, sensor: FleetSensor, now: number): void {
  const age = formatAge(sensor.lastSeen, now);
  const signature = `${sensor.status}|${sensor.latest.value}|${age}|${sensor.rejectedLastHour}|${alertText(sensor)}`;
  if (signature === tile.signature) return;
  const valueChanged = tile.signature !== '' && !tile.signature.startsWith(`${sensor.status}|${sensor.latest.value}|`);
  tile.signature = signature;
  tile.root.className = `tile status-${sensor.status}${sensor.openAlerts.length ? ' alerting' : ''}`;
  tile.root.dataset.status = sensor.status;
  tile.root.title = `${sensor.sensorId}: ${sensor.status}, last seen ${age}`;
  setText(tile.value, formatValue(sensor.latest.value, sensor.unit));
  if (valueChanged) flash(tile.value);
  const rate = sensor.rejectedLastHour > 0 ? ` · ${formatRate(sensor.rejectionRateLastHour)} rejected` : '';
  setText(tile.meta, `${sensor.sensorType} · ${age}${rate}`);
  setText(tile.alerts, alertText(sensor));
}

/** What the colours mean, from the API's own thresholds, so a status is never a mystery. */
function statusLegend(t: StatusThresholds): string {
  const span = (seconds: number) =>
    seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  return `Status by the age of a sensor's newest valid reading: ok up to ${span(t.staleAfterSeconds)}, stale up to ${span(t.offlineAfterSeconds)}, offline beyond. Click a sensor for its history.`;
}

/** A short highlight on a value that just changed, so live updates are visible. */
function flash(element: HTMLElement): void {
  element.classList.remove('fresh');
  void element.offsetWidth;
  element.classList.add('fresh');
}

export class FleetController implements ViewController {
  readonly element = h('section', { class: 'fleet' });
  private readonly tiles = new Map<string, Tile>();
  private readonly grid = h('div', { class: 'grid', role: 'list', 'aria-label': 'Sensors' });
  private readonly summaryBar = h('div', { class: 'summary' });
  private readonly legend = h('p', { class: 'muted small legend' });
  private readonly search = h('input', {
    type: 'search',
    placeholder: 'Search sensors…',
    'aria-label': 'Search sensors',
    class: 'search',
  });
  private readonly typeSelect = h('select', { 'aria-label': 'Sensor type' });
  private readonly alertsToggle = h('input', { type: 'checkbox' });
  private readonly empty = h('p', { class: 'empty', hidden: true });
  private sensors: FleetSensor[] = [];
  private readonly byId = new Map<string, FleetSensor>();
  private thresholds: StatusThresholds | null = null;
  private clockOffsetMs = 0;
  private loadedAt = 0;
  private readonly ticker: number;

  constructor(
    private view: FleetView,
    private readonly context: ViewContext,
  ) {
    this.search.value = view.q;
    this.alertsToggle.checked = view.alerts;
    let debounce = 0;
    this.search.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = window.setTimeout(() => this.setFilter({ q: this.search.value }, true), 120);
    });
    this.typeSelect.addEventListener('change', () => this.setFilter({ type: this.typeSelect.value || null }));
    this.alertsToggle.addEventListener('change', () => this.setFilter({ alerts: this.alertsToggle.checked }));
    const toolbar = h(
      'div',
      { class: 'toolbar' },
      this.search,
      this.typeSelect,
      h('label', { class: 'toggle' }, this.alertsToggle, ' open alerts only'),
    );
    this.element.append(toolbar, this.summaryBar, this.legend, this.empty, this.grid);
    replaceChildren(this.grid, h('p', { class: 'loading' }, 'Loading the fleet…'));
    // Ages ("12 s ago") move on between API refreshes.
    this.ticker = window.setInterval(() => this.render(), 5_000);
  }

  private setFilter(change: Partial<FleetView>, replace = false): void {
    this.view = { ...this.view, ...change };
    this.context.navigate(this.view, { replace });
  }

  update(view: View): boolean {
    if (view.view !== 'fleet') return false;
    this.view = view;
    if (this.search.value !== view.q) this.search.value = view.q;
    this.alertsToggle.checked = view.alerts;
    this.render();
    return true;
  }

  async refresh(changes: ChangesReply | null): Promise<void> {
    const fresh = Date.now() - this.loadedAt < FULL_RELOAD_MS;
    if (changes && fresh && applyChanges(this.byId, changes)) {
      this.render();
      return;
    }
    const fleet = await loadFleet();
    this.sensors = fleet.sensors;
    this.thresholds = fleet.thresholds;
    this.clockOffsetMs = fleet.clockOffsetMs;
    this.byId.clear();
    for (const s of fleet.sensors) this.byId.set(s.sensorId, s);
    this.loadedAt = Date.now();
    setText(this.legend, statusLegend(fleet.thresholds));
    this.render();
  }

  private renderSummary(): void {
    const summary = summarize(this.sensors);
    const chip = (label: string, count: number, status: FleetView['status'], cls: string) =>
      h(
        'button',
        {
          type: 'button',
          class: `chip ${cls}${this.view.status === status ? ' active' : ''}`,
          'data-filter-status': status ?? 'all',
          'aria-pressed': this.view.status === status ? 'true' : 'false',
          onclick: () => this.setFilter({ status }),
        },
        h('span', { class: 'chip-count' }, count.toLocaleString('en')),
        ` ${label}`,
      );
    replaceChildren(
      this.summaryBar,
      chip('sensors', summary.total, null, 'all'),
      ...STATUSES.map((s) => chip(s, summary[s], s, `status-${s}`)),
      h('span', { class: `alert-count${summary.alerting ? ' on' : ''}` }, `${summary.alerting} with open alerts`),
    );
    const current = this.view.type ?? '';
    replaceChildren(
      this.typeSelect,
      h('option', { value: '' }, 'All types'),
      ...summary.types.map((t) => h('option', { value: t, selected: t === current }, t)),
    );
    this.typeSelect.value = current;
  }

  private render(): void {
    if (!this.thresholds) return;
    const now = Date.now() + this.clockOffsetMs;
    for (const s of this.sensors) s.status = statusAt(s.lastSeen, now, this.thresholds);
    this.renderSummary();
    const visible = filterFleet(this.sensors, this.view);
    const seen = new Set<string>();
    if (this.grid.firstElementChild?.classList.contains('loading')) this.grid.textContent = '';
    let previous: Element | null = null;
    for (const sensor of visible) {
      let tile = this.tiles.get(sensor.sensorId);
      if (!tile) {
        tile = newTile(sensor, this.context);
        this.tiles.set(sensor.sensorId, tile);
      }
      patchTile(tile, sensor, now);
      seen.add(sensor.sensorId);
      // Move a node only when it is not already in its place: no work when nothing changed.
      const expected: Element | null = previous ? previous.nextElementSibling : this.grid.firstElementChild;
      if (expected !== tile.root) this.grid.insertBefore(tile.root, expected);
      previous = tile.root;
    }
    for (const [id, tile] of this.tiles) if (!seen.has(id)) tile.root.remove();
    this.empty.hidden = visible.length > 0;
    setText(
      this.empty,
      this.sensors.length === 0
        ? 'No sensor has sent a reading yet. With npm start the simulated fleet appears within a few seconds.'
        : 'No sensor matches this filter.',
    );
    this.grid.dataset.count = String(visible.length);
  }

  destroy(): void {
    clearInterval(this.ticker);
  }
}
