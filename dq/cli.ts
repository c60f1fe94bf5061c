/**
 * `npm run dq -- [options] [check files or folders]`: runs SodaCL check files without Python.
 *
 *   -V, --verbose        print each check's SQL and parameters
 *   --json               machine-readable output
 *   -v, --variable N=V   scan variable (repeatable); NOW=2026-01-01T00:00:00Z fixes freshness' now
 *   --state-dir DIR      the running stack to check (else IOT_FIRST_STATE_DIR, else .iot-first)
 *   -d, -c               accepted for command-line compatibility with `soda scan`; the
 *                        connection comes from DATABASE_URL, else the running `npm start` stack
 *
 * Exit codes are soda scan's: 0 pass, 1 warn, 2 fail, 3 error (including syntax it does not
 * support, which is never skipped).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadCheckFiles } from '#dq/adapters/check-files.js';
import { pgExecutor } from '#dq/adapters/pg-executor.js';
import { renderJson, renderText } from '#dq/core/report.js';
import { runScan } from '#dq/core/runner.js';
import { databaseUrlOf, resolveStateDir, STATE_DIR_ENV } from '#runtime/state-dir.js';

interface CliArgs {
  verbose: boolean;
  json: boolean;
  variables: Record<string, string>;
  files: string[];
  /** The running stack's state folder (runtime/state-dir.ts). */
  stateDir?: string;
}

const USAGE =
  'usage: npm run dq -- [-V|--verbose] [--json] [-v NAME=VALUE]... [--state-dir DIR] [check files or folders]';

export function parseArgs(argv: readonly string[]): CliArgs | string {
  const args: CliArgs = { verbose: false, json: false, variables: {}, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-V' || a === '--verbose') args.verbose = true;
    else if (a === '--json') args.json = true;
    else if (a === '-h' || a === '--help') return USAGE;
    else if (a === '-v' || a === '--variable') {
      const kv = argv[++i];
      const m = kv === undefined ? undefined : /^(?<name>[A-Za-z_][A-Za-z0-9_]*)=(?<value>.*)$/s.exec(kv)?.groups;
      if (!m?.name) return `-v needs NAME=VALUE\n${USAGE}`;
      args.variables[m.name] = m.value ?? '';
    } else if (a === '--state-dir') {
      const dir = argv[++i];
      if (!dir) return `--state-dir needs a folder\n${USAGE}`;
      args.stateDir = dir;
    } else if (a === '-d' || a === '-c' || a === '--data-source' || a === '--configuration') i++;
    else if (a.startsWith('-')) return `unknown option ${a}\n${USAGE}`;
    else args.files.push(a);
  }
  return args;
}

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * DATABASE_URL, else the running stack named by `--state-dir` or IOT_FIRST_STATE_DIR
 * (runtime/state-dir.ts), else the `databaseUrl` that `npm start` writes to .iot-first/endpoints.json.
 */
export async function resolveDatabaseUrl(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  stateDir?: string,
): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (stateDir || env[STATE_DIR_ENV]) return databaseUrlOf(resolveStateDir(stateDir, env), env);
  for (const dir of [cwd, PROJECT_ROOT]) {
    const file = path.join(dir, '.iot-first', 'endpoints.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const parsed: unknown = JSON.parse(text);
    const url =
      typeof parsed === 'object' && parsed !== null ? (parsed as { databaseUrl?: unknown }).databaseUrl : undefined;
    if (typeof url === 'string' && url !== '') return url;
    throw new Error(`${file} has no "databaseUrl"`);
  }
  throw new Error(
    'no database: set DATABASE_URL, or start the embedded stack with `npm start` (it writes .iot-first/endpoints.json)',
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`);
    return args === USAGE ? 0 : 3;
  }
  let client: pg.Client | undefined;
  try {
    const files = await loadCheckFiles(args.files);
    const url = await resolveDatabaseUrl(process.env, process.cwd(), args.stateDir);
    client = new pg.Client({ connectionString: url, application_name: 'iot-first-dq' });
    await client.connect();
    const scan = await runScan({
      files,
      executor: pgExecutor(client),
      variables: args.variables,
      environment: process.env,
    });
    process.stdout.write(`${args.json ? renderJson(scan, args.verbose) : renderText(scan, args.verbose)}\n`);
    return scan.exitCode;
  } catch (error) {
    process.stderr.write(`dq: ${error instanceof Error ? error.message : String(error)}\n`);
    return 3;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
