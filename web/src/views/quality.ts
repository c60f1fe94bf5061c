/** The latest data-quality run: every SodaCL check with its outcome, worst first. */
import { ApiProblem, getJson } from '../api.js';
import type { ViewController } from '../context.js';
import { h, replaceChildren } from '../dom.js';
import { formatTime } from '../format.js';
import type { DqCheck, DqRun } from '../types.js';

const SEVERITY: Record<DqCheck['outcome'], number> = { error: 0, fail: 1, warn: 2, pass: 3 };

export class QualityController implements ViewController {
  readonly element = h('section', { class: 'quality' });
  private readonly body = h('div', {});

  constructor() {
    this.element.append(h('h2', {}, 'Data quality'), this.body);
  }

  async refresh(): Promise<void> {
    let run: DqRun;
    try {
      run = await getJson<DqRun>('/api/dq/runs/latest');
    } catch (error) {
      if (error instanceof ApiProblem && error.status === 404) {
        replaceChildren(
          this.body,
          h('p', { class: 'empty' }, 'No data-quality run yet. They run on a schedule; `npm run dq` runs one now.'),
        );
        return;
      }
      throw error;
    }
    const checks = [...run.checks].sort((a, b) => SEVERITY[a.outcome] - SEVERITY[b.outcome]);
    const count = (o: DqCheck['outcome']) => checks.filter((c) => c.outcome === o).length;
    replaceChildren(
      this.body,
      h(
        'p',
        { class: 'summary' },
        h('span', { class: `pill outcome-${run.outcome}` }, run.outcome),
        ` run ${run.runId} at ${formatTime(run.startedAt)}: `,
        `${count('pass')} passed, ${count('warn')} warned, ${count('fail')} failed, ${count('error')} could not run`,
      ),
      h(
        'table',
        { class: 'data' },
        h('thead', {}, h('tr', {}, ...['outcome', 'check', 'table', 'value', 'thresholds'].map((t) => h('th', {}, t)))),
        h(
          'tbody',
          {},
          ...checks.map((c) =>
            h(
              'tr',
              { 'data-outcome': c.outcome },
              h('td', {}, h('span', { class: `pill outcome-${c.outcome}` }, c.outcome)),
              h('td', {}, c.checkName, c.error ? h('div', { class: 'muted' }, c.error) : null),
              h('td', {}, c.tableName ?? '—'),
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
