/**
 * A function's cold starts happen one at a time (runtime/host/function-runtime.ts takeContainer):
 * on a loaded machine, several containers compiling a handler at once all outlasted the init
 * timeout and were killed, again and again. That holds for warm() (the rehearsal's provisioned
 * start) as for invocations. Real child-process containers of a fixture that logs the start
 * and end of its init.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FunctionRuntime } from '#runtime/host/function-runtime.js';
import { LOADED_MACHINE_BOUND_MS, PROJECT_ROOT } from '../support/runtime-stack.js';

let dir: string | undefined;
let runtime: FunctionRuntime | undefined;

afterEach(async () => {
  await runtime?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A runtime of the fixture that logs when each container's init starts and ends. */
async function initLoggingRuntime(): Promise<{ runtime: FunctionRuntime; initLog: string }> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iot-cold-'));
  const initLog = path.join(dir, 'inits');
  runtime = new FunctionRuntime({
    functionName: 'init-overlap',
    handlerPath: path.join(PROJECT_ROOT, 'test/fixtures/handlers/init-overlap.ts'),
    memoryMb: 128,
    timeoutSeconds: 60,
    environment: { INIT_LOG: initLog, PATH: process.env.PATH ?? '' },
    region: 'us-east-1',
    logFile: path.join(dir, 'function.log'),
    cwd: PROJECT_ROOT,
    maxConcurrency: 4,
  });
  return { runtime, initLog };
}

/** Never two inits at once: every start is followed by its own end. Returns the number of inits. */
function expectOneInitAtATime(initLog: string): number {
  const lines = readFileSync(initLog, 'utf8').trim().split('\n');
  for (let i = 0; i < lines.length; i += 2) {
    const [startWord, startPid] = (lines[i] ?? '').split(' ');
    const [endWord, endPid] = (lines[i + 1] ?? '').split(' ');
    expect([startWord, endWord, endPid]).toEqual(['start', 'end', startPid]);
  }
  return lines.length / 2;
}

describe('cold starts of one function', () => {
  it(
    'start one container at a time, and every concurrent invocation is served',
    async () => {
      const { runtime: fn, initLog } = await initLoggingRuntime();
      const outcomes = await Promise.all([1, 2, 3, 4].map((n) => fn.invoke({ n })));
      expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, true]);
      expect(expectOneInitAtATime(initLog)).toBeGreaterThanOrEqual(1);
    },
    LOADED_MACHINE_BOUND_MS,
  );

  it(
    'warm() takes its turn too: warming beside invocations never overlaps their cold starts',
    async () => {
      const { runtime: fn, initLog } = await initLoggingRuntime();
      const [, ...outcomes] = await Promise.all([fn.warm(), fn.invoke({ n: 1 }), fn.invoke({ n: 2 })]);
      expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
      // The warmed container is a cold start of its own, then serves warm.
      expect(expectOneInitAtATime(initLog)).toBeGreaterThanOrEqual(1);
      expect(fn.stats.coldStarts).toBe(fn.containers);
    },
    LOADED_MACHINE_BOUND_MS,
  );
});
