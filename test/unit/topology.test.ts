/** The relations the topology must keep, checked on the real one and on variants that break them. */
import { describe, expect, it } from 'vitest';
import { topology, VISIBILITY_PER_FUNCTION_TIMEOUT, visibilityProblems } from '#topology.js';

describe('visibility timeout of a consumed queue', () => {
  it('the real topology gives every consumed queue at least six timeouts of its consumer', () => {
    expect(VISIBILITY_PER_FUNCTION_TIMEOUT).toBe(6);
    expect(topology.sqsSources.length).toBeGreaterThan(0);
    expect(visibilityProblems(topology)).toEqual([]);
  });

  it('names each source whose queue falls one second short, and only those', () => {
    const errors = {
      ...topology.queues.errors,
      visibilityTimeoutSeconds: 6 * topology.functions.dlqDrainer.timeoutSeconds - 1,
    };
    const t = { ...topology, queues: { ...topology.queues, errors } };
    const problems = visibilityProblems(t);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      `queue ${errors.name} has a visibility timeout of ${errors.visibilityTimeoutSeconds} s`,
    );
    expect(problems[0]).toContain(`at least 6 times that (${6 * topology.functions.dlqDrainer.timeoutSeconds} s)`);
    // Exactly six timeouts is enough.
    expect(
      visibilityProblems({
        ...t,
        queues: { ...t.queues, errors: { ...errors, visibilityTimeoutSeconds: errors.visibilityTimeoutSeconds + 1 } },
      }),
    ).toEqual([]);
  });
});
