/**
 * `npm start`: launches the embedded pipeline (runtime/serve.ts) in its own process group and
 * relays Ctrl-C (or SIGTERM) to it once.
 *
 * Why a launcher: Ctrl-C in a terminal signals the whole foreground process group. Without
 * it, the embedded PostgreSQL server and the function containers would get SIGINT at the
 * same moment as the host, and PostgreSQL's fast shutdown would abort the very batches the
 * host is trying to finish. In its own group, only the host hears the signal, and it stops
 * the others in order (pollers, in-flight batches, checkpoints, containers, servers).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const serve = fileURLToPath(new URL('./serve.ts', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const child = spawn(process.execPath, ['--import', tsx, serve, ...process.argv.slice(2)], {
  detached: true,
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});

let signalled = 0;
let lastSignalAt = 0;
const relay = (signal: NodeJS.Signals): void => {
  // One Ctrl-C can arrive twice (from the terminal and relayed by npm): count it once.
  if (Date.now() - lastSignalAt < 1_000) return;
  lastSignalAt = Date.now();
  signalled++;
  // First signal: graceful stop. Second: the host's own "again to force" path. The signal is
  // passed on as it came, so the host's message names what the user did.
  child.kill(signalled > 2 ? 'SIGKILL' : signal);
};
process.on('SIGINT', relay);
process.on('SIGTERM', relay);
// `npm start` runs this under `sh -c`, which dies on SIGTERM without passing it on: a supervisor
// or `kill <npm pid>` would leave the stack running, orphaned. Losing the parent means stop.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && signalled === 0) relay('SIGTERM');
}, 500).unref();
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
