/**
 * Runs one function's real handler module the way Lambda does: in separate execution
 * environments ("containers", here child processes) that are created on demand, reused warm
 * across invocations, serve one invocation at a time, and are destroyed when an invocation
 * times out or the process dies. Concurrency comes from more containers, never from
 * interleaving two invocations in one, so module-scope state (pools, clients) behaves as on AWS.
 *
 * Why child processes and not `import()` in the host: a handler that hangs, leaks, or calls
 * `process.exit` must not take the host down, and the timeout can only be enforced by killing.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ContainerMessage, FunctionErrorPayload, InvocationOutcome, InvokeMessage } from './protocol.js';

export interface FunctionRuntimeOptions {
  /** Deployed name, e.g. `iot-validator`. */
  readonly functionName: string;
  /** Absolute path of the handler module (the same file the deployment bundles). */
  readonly handlerPath: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** The function's whole environment (Lambda does not inherit the host's). */
  readonly environment: Readonly<Record<string, string>>;
  readonly region: string;
  /** stdout and stderr of every container are appended here (JSON logs, EMF metrics). */
  readonly logFile: string;
  /** Upper bound on concurrent containers (Lambda's reserved concurrency). */
  readonly maxConcurrency?: number;
  /** Working directory of the containers (the project root). */
  readonly cwd: string;
  /** Export of the handler module to call; `handler` unless a template's Handler string names another. */
  readonly handlerExport?: string;
  /**
   * True when `handlerPath` is a built asset (a cdk.out bundle): the container imports it with
   * plain Node, as the Lambda runtime does, instead of through tsx (container-bootstrap.mjs).
   */
  readonly bundled?: boolean;
  /** Time a container may take to import its handler; {@link DEFAULT_INIT_TIMEOUT_MS} by default. */
  readonly initTimeoutMs?: number;
}

/**
 * Time a container may take to import its handler (Lambda's init phase has its own 10 s limit;
 * tsx compiling a handler on a busy machine needs more). An init that fails is not the batch's
 * fault: the event sources retry the whole batch after a back-off (kinesis-policy.ts).
 */
export const DEFAULT_INIT_TIMEOUT_MS = 30_000;

const CONTAINER_ENTRY = fileURLToPath(new URL('./container-entry.ts', import.meta.url));
const BUNDLE_ENTRY = fileURLToPath(new URL('./container-bootstrap.mjs', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Source modules run through tsx; a built asset through the plain-Node bootstrap. */
function containerEntry(options: FunctionRuntimeOptions): { entry: string; loader: string[] } {
  return options.bundled
    ? { entry: BUNDLE_ENTRY, loader: [] }
    : { entry: CONTAINER_ENTRY, loader: ['--import', TSX_LOADER] };
}

interface Pending {
  readonly requestId: string;
  readonly resolve: (outcome: InvocationOutcome) => void;
  readonly started: number;
  timer?: NodeJS.Timeout;
}

class Container {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  pending: Pending | undefined;
  dead = false;
  private readonly onDeath: () => void;

  constructor(options: FunctionRuntimeOptions, logFd: number, onDeath: (container: Container) => void) {
    this.onDeath = () => onDeath(this);
    const { entry, loader } = containerEntry(options);
    const initTimeoutMs = options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    this.child = fork(entry, [options.handlerPath, options.handlerExport ?? 'handler'], {
      cwd: options.cwd,
      env: { ...options.environment },
      execArgv: [...loader, `--max-old-space-size=${Math.max(64, options.memoryMb)}`],
      stdio: ['ignore', logFd, logFd, 'ipc'],
      serialization: 'json',
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          Object.assign(new Error(`init did not finish within ${initTimeoutMs} ms`), {
            errorType: 'Runtime.InitTimeout',
          }),
        );
        this.kill();
      }, initTimeoutMs);
      this.child.on('message', (message: ContainerMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'init-error') {
          clearTimeout(timer);
          reject(Object.assign(new Error(message.error.errorMessage), { errorType: message.error.errorType }));
        } else if (message.type === 'result') {
          this.settle(message.ok ? { ok: true, payload: message.payload } : { ok: false, error: message.error });
        }
      });
      let gone = false;
      const die = (how: string): void => {
        clearTimeout(timer);
        if (gone) return;
        gone = true;
        this.dead = true;
        reject(Object.assign(new Error(`container exited during init (${how})`), { errorType: 'Runtime.ExitError' }));
        this.settle({
          ok: false,
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${this.pending?.requestId ?? '-'} Error: Runtime exited with error: ${how}`,
          },
        });
        this.onDeath();
      };
      this.child.on('exit', (code, signal) => {
        const how = signal ? `signal: ${signal}` : `exit status ${code}`;
        // 'exit' can overtake the child's last IPC message (its init error, a result): wait for the
        // channel to drain, or a failed import reads as a bare exit (the rehearsal saw it under load).
        if (!this.child.connected) return die(how);
        const drained = setTimeout(() => die(how), 1_000);
        this.child.once('disconnect', () => {
          clearTimeout(drained);
          die(how);
        });
      });
      // A failed spawn (EAGAIN, EMFILE) emits 'error', perhaps without 'exit'; unheard, it would
      // crash the whole host. The container is given up on like one that exited.
      this.child.on('error', (error) => {
        die(`error: ${error.message}`);
        this.child.kill('SIGKILL');
      });
    });
    // Callers observe init failures through invoke(); avoid an unhandled rejection here.
    this.ready.catch(() => undefined);
  }

  settle(result: { ok: true; payload: unknown } | { ok: false; error: FunctionErrorPayload }): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    if (pending.timer) clearTimeout(pending.timer);
    const durationMs = Date.now() - pending.started;
    pending.resolve(
      result.ok
        ? { ok: true, payload: result.payload, requestId: pending.requestId, durationMs }
        : { ok: false, error: result.error, functionError: 'Unhandled', requestId: pending.requestId, durationMs },
    );
  }

  /** Kills the process; marked dead at once so it is never handed out again. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.child.kill('SIGKILL');
  }
}

export class FunctionRuntime {
  readonly functionName: string;
  /** The module this function runs: the topology's entry, the same file the deployment bundles. */
  readonly handlerPath: string;
  readonly functionArn: string;
  private readonly idle: Container[] = [];
  private readonly all = new Set<Container>();
  private readonly waiting: Array<() => void> = [];
  private readonly logFd: number;
  private busy = 0;
  private stopped = false;
  /** The cold start in progress, if any (see takeContainer). */
  private initializing: Promise<void> | undefined;
  /** Counters for the status display. */
  readonly stats = { invocations: 0, errors: 0, timeouts: 0, coldStarts: 0 };

  constructor(private readonly options: FunctionRuntimeOptions) {
    this.functionName = options.functionName;
    this.handlerPath = options.handlerPath;
    this.functionArn = `arn:aws:lambda:${options.region}:000000000000:function:${options.functionName}`;
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    this.logFd = openSync(options.logFile, 'a');
  }

  /** Invokes the handler with `event`; never rejects: failures come back as an outcome. */
  async invoke(event: unknown, requestId: string = randomUUID()): Promise<InvocationOutcome> {
    const stopping: InvocationOutcome = {
      ok: false,
      error: { errorType: 'ServiceUnavailable', errorMessage: 'the Lambda host is stopping' },
      functionError: 'Unhandled',
      requestId,
      durationMs: 0,
    };
    if (this.stopped) return stopping;
    await this.acquireSlot();
    this.stats.invocations++;
    const started = Date.now();
    try {
      const container = await this.takeContainer({ reuseIdle: true });
      // Stopped while waiting for another container's cold start: start no new one.
      if (!container) return stopping;
      try {
        await container.ready;
      } catch (error) {
        this.discard(container);
        const errorType = (error as { errorType?: string }).errorType ?? 'Runtime.InitError';
        this.stats.errors++;
        return {
          ok: false,
          error: { errorType, errorMessage: (error as Error).message },
          functionError: 'Unhandled',
          initError: true,
          requestId,
          durationMs: Date.now() - started,
        };
      }
      const outcome = await this.run(container, event, requestId);
      if (!outcome.ok) this.stats.errors++;
      if (!container.dead && !this.stopped) this.idle.push(container);
      else if (!container.dead) container.child.disconnect();
      return outcome;
    } finally {
      this.releaseSlot();
    }
  }

  /**
   * A warm container (with `reuseIdle`), or a new one; undefined when the runtime stopped while
   * waiting. A function's cold starts happen one at a time, whoever asks (an invocation, warm()):
   * on a loaded machine, eight containers compiling the handler with tsx at once each took longer
   * than the init timeout, were killed, and the next eight did the same; one at a time, each
   * start is quick (tsx's cache is warm after the first) and a waiting invocation takes any
   * container that became idle meanwhile.
   */
  private async takeContainer(options: { readonly reuseIdle: boolean }): Promise<Container | undefined> {
    for (;;) {
      if (options.reuseIdle) {
        const idle = this.idle.pop();
        if (idle && !idle.dead) return idle;
      }
      if (this.stopped) return undefined;
      if (!this.initializing) break;
      await this.initializing;
    }
    if (this.stopped) return undefined; // no container outside the set stop() retires
    const container = this.launch();
    const gate: Promise<void> = container.ready
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        if (this.initializing === gate) this.initializing = undefined;
      });
    this.initializing = gate;
    return container;
  }

  private run(container: Container, event: unknown, requestId: string): Promise<InvocationOutcome> {
    const timeoutMs = this.options.timeoutSeconds * 1000;
    const started = Date.now();
    return new Promise<InvocationOutcome>((resolve) => {
      const pending: Pending = { requestId, resolve, started };
      container.pending = pending;
      pending.timer = setTimeout(() => {
        // Lambda's timeout: the environment is destroyed, the invocation fails.
        this.stats.timeouts++;
        container.settle({
          ok: false,
          error: {
            errorType: 'Sandbox.Timedout',
            errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${this.options.timeoutSeconds.toFixed(2)} seconds`,
          },
        });
        container.kill();
        this.forget(container);
      }, timeoutMs);
      const message: InvokeMessage = {
        type: 'invoke',
        requestId,
        event,
        deadlineMs: started + timeoutMs,
        invokedFunctionArn: this.functionArn,
      };
      container.child.send(message, (error) => {
        if (error)
          container.settle({
            ok: false,
            error: { errorType: 'Runtime.ExitError', errorMessage: `could not reach the container: ${error.message}` },
          });
      });
    });
  }

  private forget(container: Container): void {
    this.all.delete(container);
    const i = this.idle.indexOf(container);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private async acquireSlot(): Promise<void> {
    const max = this.options.maxConcurrency ?? 8;
    while (this.busy >= max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy++;
  }

  private releaseSlot(): void {
    this.busy--;
    this.waiting.shift()?.();
  }

  /**
   * Starts one container and waits for its init, like Lambda's provisioned concurrency; the
   * container then serves the next invocation warm. Rejects with the init error (a handler that
   * fails to import, a missing export), so a caller can check a function before any event. The
   * start waits its turn behind any cold start in progress (takeContainer).
   */
  async warm(): Promise<void> {
    const container = await this.takeContainer({ reuseIdle: false });
    if (!container) throw new Error(`${this.functionName}: the Lambda host is stopping`);
    const failure = await container.ready.then(
      () => undefined,
      (error: Error & { errorType?: string }) => error,
    );
    if (failure) {
      this.discard(container);
      const errorType = failure.errorType ?? 'Runtime.InitError';
      throw Object.assign(new Error(`${this.functionName}: ${errorType}: ${failure.message}`), { errorType });
    }
    // Stopped while it started: stop() retires it already (it is in `all`); never hand it out.
    if (!this.stopped) this.idle.push(container);
  }

  /** A new container (a cold start), tracked until it dies or is discarded. */
  private launch(): Container {
    this.stats.coldStarts++;
    const container = new Container(this.options, this.logFd, (c) => this.forget(c));
    this.all.add(container);
    return container;
  }

  private discard(container: Container): void {
    container.kill();
    this.forget(container);
  }

  /** Number of live containers (warm or busy). */
  get containers(): number {
    return this.all.size;
  }

  /**
   * Retires every container. Callers stop their event sources first, so nothing is in flight;
   * anything still running after `graceMs` is killed.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    const exits = [...this.all].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.dead) return resolve();
          c.child.once('exit', () => resolve());
          if (!c.pending && c.child.connected) c.child.disconnect();
          setTimeout(() => {
            c.kill();
            resolve();
          }, graceMs).unref();
        }),
    );
    await Promise.all(exits);
    try {
      closeSync(this.logFd);
    } catch {
      // already closed
    }
  }
}
