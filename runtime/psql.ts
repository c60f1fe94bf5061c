/**
 * `npm run psql -- [psql arguments]`: psql on the running stack's database (from
 * `.iot-first/endpoints.json`), or on DATABASE_URL when that is set.
 */
import { spawn } from 'node:child_process';
import { readRunningEndpoints } from './endpoints-file.js';

function databaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  return readRunningEndpoints(process.env.IOT_FIRST_STATE_DIR || undefined).databaseUrl;
}

let url: string;
try {
  url = databaseUrl();
} catch (error) {
  process.stderr.write(`psql: ${(error as Error).message}, or set DATABASE_URL\n`);
  process.exit(1);
}
const child = spawn('psql', [url, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(
    error.code === 'ENOENT'
      ? 'psql: the PostgreSQL client is not installed (e.g. apt-get install postgresql-client); any client works with the databaseUrl in .iot-first/endpoints.json\n'
      : `psql: ${error.message}\n`,
  );
  process.exit(1);
});
child.on('exit', (code) => process.exit(code ?? 1));
