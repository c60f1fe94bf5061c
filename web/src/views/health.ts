/** Pipeline health: shard iterator ages, queue depths (DLQs included), the aggregator and the DQ runs. */
import { getJson } from '../api.js';
import type { ViewController } from '../context.js';
import { h, replaceChildren } from '../dom.js';
import { formatDuration, formatTime } from '../format.js';
import type { HealthReply } from '../types.js';

function card(title: string, late: boolean, ...lines: (string | HTMLElement)[]): HTMLElement {
  return h(
    'div',
    { class: `card ${late ? 'late' : 'fine'}`, 'data-late': late ? 'true' : 'false' },
    h(
      'div',
      { class: 'card-title' },
      h('span', { class: 'dot' }),
      title,
      h('span', { class: 'card-state' }, late ? 'late' : 'ok'),
    ),
    ...lines.map((line) => h('div', { class: 'card-line' }, line)),
  );
}

/** The one-line health summary in the header, from the same reply. */
export function healthProblems(health: HealthReply): string[] {
  const problems: string[] = [];
  if (health.aggregator.late) problems.push('aggregator late');
  if (health.dq.late) problems.push('data-quality run late');
  if (health.shards.some((s) => s.late)) problems.push('stream lagging');
  const dlq = health.queues.filter((q) => q.dlq && (q.depth ?? 0) > 0);
  if (dlq.length) problems.push(`${dlq.reduce((n, q) => n + (q.depth ?? 0), 0)} in dead-letter queues`);
  if (health.queues.some((q) => q.late)) problems.push('queue backlog');
  return problems;
}

export class HealthController implements ViewController {
  readonly element = h('section', { class: 'health' });
  private readonly body = h('div', { class: 'cards' });

  constructor() {
    this.element.append(h('h2', {}, 'Pipeline health'), this.body);
  }

  async refresh(): Promise<void> {
    const health = await getJson<HealthReply>('/api/health');
    replaceChildren(
      this.body,
      ...health.shards.map((s) =>
        card(`stream ${s.shardId}`, s.late, `iterator age ${formatDuration(s.iteratorAgeMs)}`),
      ),
      ...health.queues.map((q) =>
        card(
          `${q.dlq ? 'dead-letter queue' : 'queue'} ${q.name}`,
          q.late || (q.dlq && (q.depth ?? 0) > 0),
          `${q.depth ?? '—'} messages`,
        ),
      ),
      card('aggregator', health.aggregator.late, `last run ${formatTime(health.aggregator.lastRunAt)}`),
      card(
        'data quality',
        health.dq.late,
        `last run ${formatTime(health.dq.lastRunAt)}`,
        health.dq.outcome ? `outcome ${health.dq.outcome}` : '',
      ),
    );
  }

  destroy(): void {}
}
