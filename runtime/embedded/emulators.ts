/**
 * Kinesis (kinesalite) and SQS (fauxqs) emulators on loopback, for `npm start` and the tests.
 *
 * kinesalite keeps its data in memory unless given a folder; `npm start` persists it (LevelDB
 * via leveldown, whose prebuilt binary loads without an install script) so that a restart keeps
 * the stream and the host's checkpoints stay meaningful. fauxqs 1.9.2 (the Node 20 line) is in
 * memory only: a restart loses queued, undrained error messages, which the README says.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import kinesalite from 'kinesalite';
import { startFauxqs } from 'fauxqs';

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

export async function startKinesalite(options: { port: number; dataDir?: string | undefined }): Promise<RunningEmulator> {
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
    server.listen(options.port, '127.0.0.1', () => {
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

export async function startSqsEmulator(options: { port: number; region: string }): Promise<RunningEmulator> {
  const server = await startFauxqs({ port: options.port, host: '127.0.0.1', logger: false, defaultRegion: options.region });
  return { url: `http://127.0.0.1:${server.port}`, port: server.port, stop: () => server.stop() };
}
