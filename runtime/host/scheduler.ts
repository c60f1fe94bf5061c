/**
 * EventBridge schedules (`rate(n minutes)`) of the embedded host. Like EventBridge, a rule
 * fires once per period whether or not the previous run has finished (the function must be
 * safe to overlap, the aggregator is). `speedUp` divides the period, for demos.
 */
import type { ScheduleSpec } from '#topology.js';
import type { Invoker } from './event-source.js';
import { scheduledEvent } from './events.js';
import type { InvocationOutcome } from './protocol.js';

export interface ScheduleRun {
  readonly at: Date;
  readonly outcome: InvocationOutcome;
}

export class Scheduler {
  readonly lastRuns = new Map<string, ScheduleRun>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly schedules: readonly { spec: ScheduleSpec; target: Invoker; ruleName: string }[],
    private readonly region: string,
    private readonly speedUp = 1,
    private readonly log?: (message: string) => void,
  ) {}

  start(): void {
    for (const s of this.schedules) {
      const periodMs = Math.max(100, (s.spec.everyMinutes * 60_000) / Math.max(1, this.speedUp));
      this.timers.push(setInterval(() => this.fire(s), periodMs));
    }
  }

  /** Fires a schedule now (also used by the timers). */
  fire(s: { spec: ScheduleSpec; target: Invoker; ruleName: string }): Promise<void> {
    const at = new Date();
    const run = s.target.invoke(scheduledEvent({ region: this.region, ruleName: s.ruleName, at })).then((outcome) => {
      this.lastRuns.set(s.spec.function, { at, outcome });
      if (!outcome.ok)
        this.log?.(`schedule ${s.ruleName}: ${s.target.functionName} failed: ${outcome.error.errorMessage}`);
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** Stops firing; runs in progress finish. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.inFlight]);
  }
}
