/**
 * The one way every command finds a running stack: its state folder, from `--state-dir`, else
 * the `IOT_FIRST_STATE_DIR` environment variable, else `.iot-first` in the project. `npm start`
 * writes `<state>/endpoints.json` while the stack runs; `invoke`, `psql`, `dq` and any command
 * added later read it through `readRunningEndpoints`, so pointing them all at another stack
 * is one flag or one variable (README, "Configuration").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Endpoints } from './stack.js';

/** The environment variable naming the state folder of the stack the commands talk to. */
export const STATE_DIR_ENV = 'IOT_FIRST_STATE_DIR';

const DEFAULT_STATE_DIR = fileURLToPath(new URL('../.iot-first', import.meta.url));

/** The state folder: the flag's value, else the environment variable, else the default (absolute). */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag || env[STATE_DIR_ENV] || DEFAULT_STATE_DIR);
}

/** Where a running stack writes its endpoints (the same JSON as its `READY` line). */
export function endpointsFile(stateDir: string): string {
  return path.join(stateDir, 'endpoints.json');
}

/** The endpoints of the stack running on `stateDir`; throws a message naming the file when none runs. */
export function readRunningEndpoints(stateDir: string): Endpoints {
  const file = endpointsFile(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`no running stack found (${file} is missing); start one with "npm start"`, { cause: error });
  }
  try {
    return JSON.parse(text) as Endpoints;
  } catch (error) {
    throw new Error(`${file} is not valid JSON`, { cause: error });
  }
}

/** `DATABASE_URL` when set, else the running stack's database. */
export function databaseUrlOf(stateDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const url = readRunningEndpoints(stateDir).databaseUrl;
  if (!url) throw new Error(`${endpointsFile(stateDir)} has no "databaseUrl"`);
  return url;
}
