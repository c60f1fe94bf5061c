/** Pipeline health: shard lag, queue depths (DLQs included), the aggregator and the DQ runs. */
import { getJson } from '../api.js';
import type { ViewController } from '../context.js';
import { h, replaceChildren } from '../dom.js';
import { formatDuration, formatTime } from '../format.js';
import type { HealthReply } from '../types.js';

function card(title: string, late: boolean, ...lines: string[]): HTMLElement {
  return h(
    'div',
    { class: `card ${late ? 'late' : 'fine'}`, 'data-late': late ? 'true' : 'false' },
    h(
      'div',
      { class: 'card-title' },
      h('span', { class: 'dot' }),
      title,
      h('span', { class: 'card-state' }, late ? 'needs a look' : 'ok'),
    ),
    ...lines.filter(Boolean).map((line) => h('div', { class: 'card-line' }, line)),
  );
}

/** What is wrong, in a few words for the header; empty when all is well. */
export function healthProblems(health: HealthReply): string[] {
  const problems: string[] = [];
  if (!health.database.ok) problems.push('database down');
  // The API calls a function that never ran "late"; to a person it says what it is: no run yet
  // (normal for a minute after a start, a problem when it lasts).
  if (health.aggregator.late) problems.push(health.aggregator.lastRunAt ? 'aggregator late' : 'no aggregator run yet');
  if (health.dq.late) problems.push(health.dq.lastRunAt ? 'data-quality run late' : 'no data-quality run yet');
  if (health.dq.outcome === 'fail' || health.dq.outcome === 'error') problems.push('data-quality checks failing');
  if (health.stream?.late) problems.push(`stream ${formatDuration(health.stream.iteratorAgeMs)} behind`);
  const dlq = (health.queues ?? []).filter((q) => q.dlq && q.late);
  if (dlq.length) problems.push(`${dlq.reduce((n, q) => n + q.visible + q.inFlight, 0)} in dead-letter queues`);
  const backlog = (health.queues ?? []).filter((q) => !q.dlq && q.late);
  if (backlog.length) problems.push(`backlog in ${backlog.map((q) => q.name).join(', ')}`);
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
    const a = health.aggregator;
    replaceChildren(
      this.body,
      card('database', !health.database.ok, health.database.ok ? 'answering' : 'not answering'),
      card(
        'aggregator',
        a.late,
        a.lastRunAt ? `last run ${formatTime(a.lastRunAt)}` : 'no run yet (it runs every minute)',
        `${a.pendingWindows} windows waiting${a.oldestPendingWindow ? `, oldest ${formatTime(a.oldestPendingWindow)}` : ''}`,
      ),
      card(
        'data quality',
        (health.dq.late && health.dq.lastRunAt !== null) ||
          health.dq.outcome === 'fail' ||
          health.dq.outcome === 'error',
        health.dq.lastRunAt ? `last run ${formatTime(health.dq.lastRunAt)}` : 'no run yet (it runs every 5 minutes)',
        health.dq.outcome ? `outcome ${health.dq.outcome}` : '',
      ),
      health.stream
        ? card(
            'stream',
            health.stream.late,
            health.stream.iteratorAgeMs === null
              ? 'iterator age unknown (no batch delivered lately)'
              : `iterator age ${formatDuration(health.stream.iteratorAgeMs)}`,
          )
        : null,
      ...(health.shards ?? []).map((s) =>
        card(
          `stream shard ${s.shardId}`,
          s.late,
          s.lagMs === null ? '' : `lag ${formatDuration(s.lagMs)}`,
          s.pending === null ? '' : `${s.pending >= 10_000 ? 'at least 10,000' : s.pending} records pending`,
        ),
      ),
      ...(health.queues ?? []).map((q) =>
        card(
          `${q.dlq ? 'dead-letter queue' : 'queue'} ${q.name}`,
          q.late,
          `${q.visible} waiting, ${q.inFlight} in flight`,
        ),
      ),
      health.shards === null && health.queues === null
        ? h('p', { class: 'muted' }, 'This target does not report stream lag or queue depths.')
        : null,
    );
  }

  destroy(): void {}
}
