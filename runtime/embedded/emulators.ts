/**
 * Kinesis (kinesalite) and SQS (fauxqs) emulators on loopback, for `npm start` and the tests.
 *
 * kinesalite runs in a process of its own (kinesalite-process.mjs): in the host's process its
 * per-record sequence arithmetic was the host thread's largest single cost. It keeps its data
 * in memory unless given a folder; `npm start` persists it (LevelDB via leveldown, whose
 * prebuilt binary loads without an install script) so that a restart keeps the stream and the
 * host's checkpoints stay meaningful. fauxqs 1.9.2 (the Node 20 line) stays in the caller's
 * process (its share of the host's time was small, and its journal is written synchronously
 * from its hooks); it is in memory only; given a journal (runtime/embedded/sqs-journal.ts),
 * every queue event is written to it before fauxqs answers, so queued, undrained messages
 * survive a restart.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { startFauxqs } from 'fauxqs';
import { attachJournal, type SqsJournal } from './sqs-journal.js';

export interface RunningEmulator {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Loopback: only this machine may read or inject records and messages. */
export const LOOPBACK = '127.0.0.1';

export interface KinesaliteOptions {
  readonly port: number;
  /** Address to listen on; loopback by default. */
  readonly host?: string | undefined;
  /** LevelDB folder; in memory when absent. */
  readonly dataDir?: string | undefined;
}

/** What this process sends kinesalite-process.mjs. */
type KinesaliteRequest =
  | { readonly type: 'start'; readonly options: { port: number; host: string; dataDir?: string | undefined } }
  | { readonly type: 'stop' };

/** What kinesalite-process.mjs answers a start with. */
type KinesaliteReport =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'start-failed'; readonly message: string; readonly code?: string | undefined };

/** True when leveldown's native binary loads here (a persisted kinesalite needs it). */
export function leveldownAvailable(): boolean {
  try {
    createRequire(import.meta.url)('leveldown');
    return true;
  } catch {
    return false;
  }
}

const KINESALITE_ENTRY = fileURLToPath(new URL('./kinesalite-process.mjs', import.meta.url));

/** How long the process may take to listen (loading kinesalite and opening LevelDB on a busy machine). */
const KINESALITE_START_TIMEOUT_MS = 30_000;
/** How long a stop may take (closing LevelDB) before the process is killed. */
const KINESALITE_STOP_TIMEOUT_MS = 10_000;
/** The last bytes of the process's stderr, quoted in a start-up error or an unexpected exit. */
const STDERR_TAIL_BYTES = 2_000;

/**
 * kinesalite started in a process of its own (kinesalite-process.mjs), listening on `port` (0:
 * any) of `host`. Rejects with a message naming the cause when it cannot listen (a port in use,
 * a LevelDB folder it cannot open) or exits first. The process never outlives this one: it
 * exits when `stop` is called and when this process exits or is killed (its IPC channel
 * closes). An exit nobody asked for is reported through `onUnexpectedExit` (by default one
 * line on stderr): the stream is then unreachable, and the event sources back off and retry
 * as they do through any outage of Kinesis.
 */
export async function startKinesalite(
  options: KinesaliteOptions & { readonly onUnexpectedExit?: (description: string) => void },
): Promise<RunningEmulator & { readonly pid: number }> {
  const child = fork(KINESALITE_ENTRY, [], {
    execArgv: [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit status ${code}`)),
  );
  const where = `${options.host ?? LOOPBACK}:${options.port}`;
  const port = await kinesaliteListening(child, exited, options, () => stderr).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`kinesalite could not start on ${where}: ${error.message}`, { cause: error });
  });
  let stopRequested = false;
  void exited.then((how) => {
    if (stopRequested) return;
    const description = `kinesalite (pid ${child.pid}, port ${port}) exited unexpectedly (${how})${stderr ? `: ${stderr.trim()}` : ''}; the stream is unreachable until the stack is restarted`;
    (options.onUnexpectedExit ?? ((line) => process.stderr.write(`${line}\n`)))(description);
  });
  // A running emulator never keeps this process alive on its own (a forgotten stop must not hang
  // a script's exit); its exit then closes the channel, which stops the child.
  unrefChild(child);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid as number,
    stop: async () => {
      const first = !stopRequested;
      stopRequested = true;
      if (!first || child.exitCode !== null || child.signalCode !== null) {
        await exited;
        return;
      }
      child.ref();
      const killer = setTimeout(() => child.kill('SIGKILL'), KINESALITE_STOP_TIMEOUT_MS);
      if (child.connected) child.send({ type: 'stop' } satisfies KinesaliteRequest);
      else child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Sends the start request and waits for the port, a refusal, an early exit or the timeout. */
function kinesaliteListening(
  child: ChildProcess,
  exited: Promise<string>,
  options: KinesaliteOptions,
  stderr: () => string,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not listening within ${KINESALITE_START_TIMEOUT_MS} ms`)),
      KINESALITE_START_TIMEOUT_MS,
    );
    const settle = (): void => clearTimeout(timer);
    child.on('message', (message: KinesaliteReport) => {
      settle();
      if (message.type === 'listening') resolve(message.port);
      else reject(new Error(message.code ? `${message.code}: ${message.message}` : message.message));
    });
    child.once('error', (error) => {
      settle();
      reject(error);
    });
    void exited.then((how) => {
      settle();
      const tail = stderr().trim();
      reject(new Error(`the process ended before listening (${how})${tail ? `: ${tail}` : ''}`));
    });
    const { port, host = LOOPBACK, dataDir } = options;
    child.send({ type: 'start', options: { port, host, dataDir } } satisfies KinesaliteRequest);
  });
}

function unrefChild(child: ChildProcess): void {
  child.unref();
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
  (child.stderr as net.Socket | null)?.unref();
}

/**
 * fauxqs 1.9.2's `startFauxqs` listens on 0.0.0.0 whatever `host` it is given (its `host` only
 * names the host in queue URLs), which would let anyone on the network read or inject error
 * messages. While it starts, a listen on 0.0.0.0 in this process is redirected to `host`; the
 * start-up is sequential, so the only such listen in that window is fauxqs's own.
 */
async function listeningOn<T>(host: string, start: () => Promise<T>): Promise<T> {
  if (host === '0.0.0.0') return start();
  const original = net.Server.prototype.listen;
  const redirected = function (this: net.Server, ...args: unknown[]): net.Server {
    const [first] = args;
    if (typeof first === 'object' && first !== null && (first as net.ListenOptions).host === '0.0.0.0')
      args[0] = { ...first, host };
    return (original as (...a: unknown[]) => net.Server).apply(this, args);
  };
  net.Server.prototype.listen = redirected as typeof original;
  try {
    return await start();
  } finally {
    net.Server.prototype.listen = original;
  }
}

/**
 * fauxqs on loopback (see `listeningOn`). With `journal`, its message spy is turned on (buffer of 1: the spy's own
 * buffer is not used, only its synchronous event hook) and routed into the journal; `stop`
 * closes the journal after the server, so late events are still written.
 */
export async function startSqsEmulator(options: {
  port: number;
  /** Address to listen on; loopback by default. */
  host?: string;
  region: string;
  journal?: SqsJournal | undefined;
}): Promise<RunningEmulator> {
  const { journal } = options;
  const server = await listeningOn(options.host ?? LOOPBACK, () =>
    startFauxqs({
      port: options.port,
      host: '127.0.0.1',
      logger: false,
      defaultRegion: options.region,
      ...(journal ? { messageSpies: { bufferSize: 1 } } : {}),
    }),
  );
  if (journal) {
    try {
      attachJournal(server.spy, journal);
    } catch (error) {
      await server.stop();
      throw error;
    }
  }
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    stop: async () => {
      await server.stop();
      journal?.close();
    },
  };
}
