/** The latest data-quality run: every SodaCL check with its outcome, worst first. */
import { getJson } from '../api.js';
import type { ViewController } from '../context.js';
import { h, replaceChildren } from '../dom.js';
import { formatTime } from '../format.js';
import type { ChangesReply, DqCheck, DqLatestReply } from '../types.js';
import { dataTable } from './controls.js';

const SEVERITY: Record<DqCheck['outcome'], number> = { error: 0, fail: 1, warn: 2, pass: 3 };

export class QualityController implements ViewController {
  readonly element = h('section', { class: 'quality' });
  private readonly body = h('div', {});
  private loaded = false;

  constructor() {
    this.element.append(h('h2', {}, 'Data quality'), this.body);
  }

  async refresh(changes: ChangesReply | null): Promise<void> {
    if (changes && changes.dqRuns.length === 0 && this.loaded) return;
    const { run } = await getJson<DqLatestReply>('/api/dq/runs/latest');
    this.loaded = true;
    if (!run) {
      replaceChildren(
        this.body,
        h('p', { class: 'empty' }, 'No data-quality run yet. They run on a schedule; npm run dq runs one now.'),
      );
      return;
    }
    const checks = [...run.checks].sort((a, b) => SEVERITY[a.outcome] - SEVERITY[b.outcome]);
    replaceChildren(
      this.body,
      h(
        'p',
        { class: 'summary' },
        h('span', { class: `pill outcome-${run.outcome}` }, run.outcome),
        ` run of ${formatTime(run.startedAt)}: `,
        `${run.passed} passed, ${run.warned} warned, ${run.failed} failed, ${run.errored} could not run`,
      ),
      dataTable(
        ['outcome', 'check', 'table', 'value', 'thresholds'],
        h(
          'tbody',
          {},
          ...checks.map((c) =>
            h(
              'tr',
              { 'data-outcome': c.outcome },
              h('td', {}, h('span', { class: `pill outcome-${c.outcome}` }, c.outcome)),
              h('td', {}, c.name, c.error ? h('div', { class: 'muted' }, c.error) : null),
              h('td', {}, c.table ?? '—'),
              h('td', {}, c.value === null ? '—' : String(+c.value.toFixed(4))),
              h('td', { class: 'muted' }, c.thresholds),
            ),
          ),
        ),
      ),
    );
  }

  destroy(): void {}
}
