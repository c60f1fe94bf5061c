/**
 * `npm run psql -- [--state-dir DIR] [psql arguments]`: psql on the running stack's database
 * (runtime/state-dir.ts finds it), or on DATABASE_URL when that is set. Only a leading
 * `--state-dir` is ours; every other argument goes to psql as given.
 */
import { spawn } from 'node:child_process';
import { databaseUrlOf, resolveStateDir } from './state-dir.js';

/** Splits a leading `--state-dir DIR` / `--state-dir=DIR` off psql's own arguments. */
function splitStateDir(argv: readonly string[]): { stateDir: string | undefined; rest: string[] } {
  const [first, second] = argv;
  if (first === '--state-dir' && second !== undefined) return { stateDir: second, rest: argv.slice(2) };
  if (first?.startsWith('--state-dir=')) return { stateDir: first.slice('--state-dir='.length), rest: argv.slice(1) };
  return { stateDir: undefined, rest: [...argv] };
}

function main(): void {
  const { stateDir, rest } = splitStateDir(process.argv.slice(2));
  let url: string;
  try {
    url = databaseUrlOf(resolveStateDir(stateDir));
  } catch (error) {
    process.stderr.write(`psql: ${(error as Error).message}, or set DATABASE_URL\n`);
    process.exit(1);
  }
  const child = spawn('psql', [url, ...rest], { stdio: 'inherit' });
  child.on('error', (error: NodeJS.ErrnoException) => {
    process.stderr.write(
      error.code === 'ENOENT'
        ? "psql: the PostgreSQL client is not installed (e.g. apt-get install postgresql-client); any client works with the databaseUrl in the state folder's endpoints.json\n"
        : `psql: ${error.message}\n`,
    );
    process.exit(1);
  });
  child.on('exit', (code) => process.exit(code ?? 1));
}

main();
