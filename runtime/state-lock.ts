/**
 * One running stack per state folder. A second `npm start` on the same folder used to stop the
 * first one's PostgreSQL (taking it for an orphan of a killed run) and, with `--fresh`, delete
 * its data, before failing on a taken port. Taking this lock is the first thing a stack does.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class StateFolderInUseError extends Error {
  override readonly name = 'StateFolderInUseError';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `<stateDir>/stack.pid` exclusively; a file left by a process that no longer runs
 * (kill -9) is taken over. Returns the release function.
 */
export function acquireStateLock(stateDir: string): () => void {
  const file = path.join(stateDir, 'stack.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new StateFolderInUseError(
          `another stack (pid ${pid}) is running on ${stateDir}; stop it first, or give this one its own --state-dir and ports`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new StateFolderInUseError(`could not take ${file}; is another stack starting at the same moment?`);
}
