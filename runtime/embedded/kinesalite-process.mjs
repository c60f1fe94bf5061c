/**
 * kinesalite in a process of its own: the entry `startKinesalite` (emulators.ts) forks. Plain
 * JavaScript, run by plain Node: a start costs kinesalite's own require only, not a TypeScript
 * loader (about 0.6 s more here, on every start of the stack and of every test's stack). The
 * messages are typed on the parent's side (`KinesaliteRequest`, `KinesaliteReport`).
 *
 * Why its own process: in the host's process kinesalite was the largest single cost on the
 * host's one thread (its sequence-number arithmetic in bignumber.js alone was 14% of the host's
 * busy time in the end-to-end benchmark's profile), and every millisecond it took there was one
 * the event sources, the SDK clients and the invoke plumbing waited for. Here it has a thread
 * (and, on a machine with a free core, a core) to itself.
 *
 * kinesalite keeps its data in memory unless given a folder; given one, it persists the stream
 * in LevelDB (leveldown, whose prebuilt binary loads without an install script).
 *
 * Lifetime is the parent's: the process exits when the parent asks (`stop`) and when the IPC
 * channel closes — the parent exited or was killed — so it never outlives the stack. SIGINT is
 * ignored: Ctrl-C in a terminal signals the whole foreground group, and the parent, which stops
 * its parts in order, decides when the stream goes away. SIGTERM stops it like `stop`. LevelDB
 * is closed before every exit the process controls, so the state folder's stream stays readable.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite');

/**
 * Opens and closes the LevelDB folder once before kinesalite does: kinesalite opens it in the
 * background and an open that fails (the folder locked by another process, damaged files) is an
 * unhandled error event, which would surface as a crash after "listening". Checked here, it is
 * a start-up error that names the folder.
 * @param {string} dataDir
 */
async function checkLevelDb(dataDir) {
  const db = require('leveldown')(dataDir);
  await new Promise((resolve, reject) =>
    db.open((error) =>
      error
        ? reject(new Error(`cannot open the stream's LevelDB in ${dataDir}: ${error.message}`))
        : resolve(undefined),
    ),
  );
  await new Promise((resolve) => db.close(() => resolve(undefined)));
}

/** @type {import('node:http').Server | undefined} */
let server;
/** @type {Promise<void> | undefined} */
let stopping;

/** Closes the server and its LevelDB (kinesalite's close closes the store first), once; then exits. */
function stopAndExit() {
  stopping ??= new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  }).then(() => process.exit(0));
  return stopping;
}

/** @param {{ port: number, host?: string, dataDir?: string }} options */
async function start(options) {
  try {
    if (options.dataDir) {
      await mkdir(options.dataDir, { recursive: true });
      await checkLevelDb(options.dataDir);
    }
    const created = kinesalite({
      createStreamMs: 0,
      deleteStreamMs: 0,
      updateStreamMs: 0,
      shardLimit: 100,
      ...(options.dataDir ? { path: options.dataDir } : {}),
    });
    await new Promise((resolve, reject) => {
      created.once('error', reject);
      created.listen(options.port, options.host, () => {
        created.off('error', reject);
        resolve(undefined);
      });
    });
    server = created;
    process.send?.({ type: 'listening', port: created.address().port });
  } catch (error) {
    // Exit once the report has left: the parent turns it into its start-up error.
    process.send?.({ type: 'start-failed', message: error.message, code: error.code }, () => process.exit(1));
  }
}

if (!process.send) {
  console.error('kinesalite-process: to be forked with an IPC channel (runtime/embedded/emulators.ts)');
  process.exit(2);
}
process.on('message', (message) => {
  if (message?.type === 'start') void start(message.options);
  else if (message?.type === 'stop') void stopAndExit();
});
process.on('disconnect', () => void stopAndExit());
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void stopAndExit());
