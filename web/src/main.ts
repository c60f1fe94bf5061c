/**
 * The dashboard's shell: token prompt, header with pipeline health and the live indicator,
 * URL routing between the views, the live loop over /api/changes, and the error banner.
 */
import './styles.css';
import { ApiProblem, AuthError, ForbiddenError, getIfChanged, getJson, NetworkError, tokenStore } from './api.js';
import type { ViewContext, ViewController } from './context.js';
import { h, replaceChildren, setText } from './dom.js';
import { formatAge } from './format.js';
import type { ChangesReply, HealthReply } from './types.js';
import { formatView, parseView, type View } from './url-state.js';
import { ErrorsController } from './views/errors.js';
import { FleetController } from './views/fleet.js';
import { HealthController, healthProblems } from './views/health.js';
import { QualityController } from './views/quality.js';
import { SensorController } from './views/sensor.js';
import { showTokenPrompt } from './views/token.js';

/** How often the page asks /api/changes for news; a 304 costs the server one indexed read. */
const POLL_MS = 3_000;

const NAV: { label: string; view: View }[] = [
  { label: 'Fleet', view: { view: 'fleet', q: '', status: null, type: null, alerts: false } },
  { label: 'Rejected records', view: { view: 'errors', range: '24h', step: null, type: null } },
  { label: 'Data quality', view: { view: 'quality' } },
  { label: 'Pipeline health', view: { view: 'health' } },
];

class Dashboard implements ViewContext {
  private readonly root = document.getElementById('app') as HTMLElement;
  private readonly main = h('main', {});
  private readonly banner = h('div', { class: 'banner', role: 'alert', hidden: true });
  private readonly nav = h('nav', {});
  private readonly healthBadge = h('a', { class: 'health-badge', href: '?view=health' }, '…');
  private readonly liveBadge = h('span', { class: 'live', title: 'Live updates from /api/changes' }, 'connecting…');
  private controller: ViewController | null = null;
  private view: View = parseView(location.search);
  private changesCursor: string | null = null;
  private changesEtag: string | null = null;
  private lastUpdate = 0;
  private healthCheckedAt = 0;
  private timer = 0;
  private started = false;
  /** The current view's last load failed (API unreachable): load it again once the API answers. */
  private viewStale = false;
  private prompting = false;

  start(): void {
    window.addEventListener('popstate', () => this.show(parseView(location.search)));
    this.healthBadge.addEventListener('click', (event) => {
      event.preventDefault();
      this.navigate({ view: 'health' });
    });
    if (tokenStore.get()) this.open();
    else this.askForToken(null);
  }

  /** Shows the prompt; the dashboard opens when a token is accepted by the API. */
  private askForToken(reason: string | null): void {
    this.prompting = true;
    this.stopLive();
    this.controller?.destroy();
    this.controller = null;
    replaceChildren(
      this.root,
      showTokenPrompt(reason, () => this.open()),
    );
  }

  private open(): void {
    this.prompting = false;
    const signOut = h('button', { type: 'button', class: 'link' }, 'Forget token');
    signOut.addEventListener('click', () => {
      tokenStore.clear();
      this.askForToken(null);
    });
    replaceChildren(
      this.root,
      h(
        'header',
        {},
        this.brand(),
        this.nav,
        h('div', { class: 'header-right' }, this.healthBadge, this.liveBadge, signOut),
      ),
      this.banner,
      this.main,
    );
    this.show(this.view);
    this.startLive();
  }

  /** The name in the header leads back to the fleet, as people expect of a logo. */
  private brand(): HTMLElement {
    const link = h('a', { class: 'brand', href: '?' }, h('span', { class: 'logo' }), 'IoT First');
    link.addEventListener('click', (event) => {
      event.preventDefault();
      this.navigate(NAV[0]?.view ?? parseView(''));
    });
    return link;
  }

  navigate(view: View, options: { replace?: boolean } = {}): void {
    const url = `${location.pathname}${formatView(view)}`;
    if (options.replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    this.show(view);
  }

  private renderNav(): void {
    replaceChildren(
      this.nav,
      ...NAV.map(({ label, view }) => {
        const current = view.view === this.view.view || (view.view === 'fleet' && this.view.view === 'sensor');
        const link = h('a', { href: formatView(view) || '?', class: current ? 'current' : '' }, label);
        link.addEventListener('click', (event) => {
          event.preventDefault();
          this.navigate(view);
        });
        return link;
      }),
    );
  }

  private show(view: View): void {
    this.view = view;
    this.renderNav();
    if (this.controller?.update?.(view)) return;
    this.controller?.destroy();
    this.controller = this.controllerFor(view);
    replaceChildren(this.main, this.controller.element);
    this.viewStale = false;
    void this.controller
      .refresh(null)
      .then(() => this.recovered())
      .catch((error) => {
        this.viewStale = true;
        this.fail(error);
      });
  }

  private controllerFor(view: View): ViewController {
    switch (view.view) {
      case 'fleet':
        return new FleetController(view, this);
      case 'sensor':
        return new SensorController(view, this);
      case 'errors':
        return new ErrorsController(view, this);
      case 'quality':
        return new QualityController();
      case 'health':
        return new HealthController();
    }
  }

  fail(error: unknown): void {
    if (error instanceof AuthError) {
      // Requests in flight when the first 401 came back answer 401 too: one prompt is enough.
      if (this.prompting) return;
      const hadToken = tokenStore.get() !== null;
      tokenStore.clear();
      this.askForToken(
        hadToken ? 'The API refused this token (wrong, expired or revoked). Enter a token again.' : null,
      );
      return;
    }
    let message: string;
    if (error instanceof NetworkError)
      message = 'Cannot reach the API. Is npm start (or the deployed stack) running? Retrying every few seconds.';
    else if (error instanceof ForbiddenError) message = `This token may not read this: ${error.message}`;
    else if (error instanceof ApiProblem) message = `The API answered ${error.status}: ${error.message}`;
    else message = `Something went wrong: ${error instanceof Error ? error.message : String(error)}`;
    this.banner.hidden = false;
    this.banner.dataset.kind = error instanceof NetworkError ? 'network' : 'api';
    setText(this.banner, message);
    this.liveBadge.className = 'live off';
    setText(this.liveBadge, 'offline');
  }

  recovered(): void {
    this.banner.hidden = true;
  }

  private startLive(): void {
    if (this.started) return;
    this.started = true;
    const tick = async () => {
      if (!this.started) return;
      if (!document.hidden) await this.poll();
      this.renderLive();
      if (this.started) this.timer = window.setTimeout(tick, POLL_MS);
    };
    void tick();
  }

  private stopLive(): void {
    this.started = false;
    clearTimeout(this.timer);
  }

  /** One /api/changes round: on news, the view refreshes what changed and the header its health. */
  private async poll(): Promise<void> {
    try {
      const since = this.changesCursor ? `?since=${encodeURIComponent(this.changesCursor)}` : '';
      const reply = await getIfChanged<ChangesReply>(`/api/changes${since}`, this.changesEtag);
      this.lastUpdate = Date.now();
      this.recovered();
      if (this.viewStale) {
        this.viewStale = false;
        await this.controller?.refresh(null);
      }
      if (Date.now() - this.healthCheckedAt > 15_000) await this.refreshHealthBadge();
      if (!reply) return;
      const first = this.changesCursor === null;
      this.changesCursor = reply.body.cursor;
      this.changesEtag = reply.etag;
      if (first) return;
      await this.controller?.refresh(reply.body);
      await this.refreshHealthBadge();
    } catch (error) {
      this.fail(error);
    }
  }

  private async refreshHealthBadge(): Promise<void> {
    this.healthCheckedAt = Date.now();
    const problems = healthProblems(await getJson<HealthReply>('/api/health'));
    this.healthBadge.className = `health-badge ${problems.length ? 'bad' : 'good'}`;
    setText(this.healthBadge, problems.length ? `⚠ ${problems.join(', ')}` : 'pipeline healthy');
  }

  private renderLive(): void {
    if (!this.lastUpdate) return;
    this.liveBadge.className = 'live on';
    setText(this.liveBadge, `live · checked ${formatAge(new Date(this.lastUpdate).toISOString(), Date.now())}`);
  }
}

new Dashboard().start();
