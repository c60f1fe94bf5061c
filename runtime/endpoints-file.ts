/**
 * `<state>/endpoints.json`, written by `npm start` while a stack runs: how the other commands
 * (`npm run invoke`, `npm run psql`) find it without being told.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Endpoints } from './stack.js';

export const DEFAULT_STATE_DIR = fileURLToPath(new URL('../.iot-first', import.meta.url));

export function readRunningEndpoints(stateDir: string = DEFAULT_STATE_DIR): Endpoints {
  const file = path.join(stateDir, 'endpoints.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no running stack found (${file} is missing); start one with "npm start"`);
  }
  return JSON.parse(text) as Endpoints;
}
