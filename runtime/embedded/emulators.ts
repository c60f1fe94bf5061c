/**
 * Kinesis (kinesalite) and SQS (fauxqs) emulators on loopback, for `npm start` and the tests.
 *
 * kinesalite keeps its data in memory unless given a folder; `npm start` persists it (LevelDB
 * via leveldown, whose prebuilt binary loads without an install script) so that a restart keeps
 * the stream and the host's checkpoints stay meaningful. fauxqs 1.9.2 (the Node 20 line) is in
 * memory only; given a journal (runtime/embedded/sqs-journal.ts), every queue event is written
 * to it before fauxqs answers, so queued, undrained messages survive a restart.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import { startFauxqs } from 'fauxqs';
import kinesalite from 'kinesalite';
import { attachJournal, type SqsJournal } from './sqs-journal.js';

export interface RunningEmulator {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** True when leveldown's native binary loads here (a persisted kinesalite needs it). */
export function leveldownAvailable(): boolean {
  try {
    createRequire(import.meta.url)('leveldown');
    return true;
  } catch {
    return false;
  }
}

/** Loopback: only this machine may read or inject records and messages. */
export const LOOPBACK = '127.0.0.1';

export async function startKinesalite(options: {
  port: number;
  /** Address to listen on; loopback by default. */
  host?: string;
  dataDir?: string | undefined;
}): Promise<RunningEmulator> {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 100,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
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
