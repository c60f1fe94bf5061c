/**
 * `npm run token -- create NAME [--scope read|admin] [--expires 30d|12h|ISO-DATE]`, `list`,
 * `revoke ID|NAME`: API tokens of the running stack's database (DATABASE_URL when set). A created
 * token is printed once, on stdout alone (so `TOKEN=$(npm run -s token -- create me)` works);
 * only its hash is stored.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import type { TokenInfo } from '#domain/api.js';
import { createToken, listTokens, revokeToken } from '#pipeline/api-tokens.js';
import { databaseUrlOf, resolveStateDir } from './state-dir.js';

const USAGE = `Usage: npm run token -- <command> [options]
  create NAME [--scope read|admin] [--expires 30d|12h|2027-01-01T00:00:00Z]   prints the new token once
  list                                                                         every token (never the tokens themselves)
  revoke ID|NAME                                                               revokes a token by id or by name
Options: --state-dir DIR (the stack's state folder; default .iot-first), or DATABASE_URL in the environment.`;

class UsageError extends Error {}

/** The stack's database: DATABASE_URL, else the running stack's endpoints.json (runtime/state-dir.ts). */
function databaseUrl(stateDir: string | undefined): string {
  return databaseUrlOf(resolveStateDir(stateDir));
}

/** `30d`, `12h`, `90m` from now, or an ISO-8601 instant; null for no expiry. */
function parseExpiry(value: string | undefined, now = Date.now()): string | null {
  if (value === undefined) return null;
  const relative = value.match(/^(\d{1,5})([dhm])$/);
  if (relative) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    return new Date(now + Number(relative[1]) * unit).toISOString();
  }
  const at = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(at)) {
    throw new UsageError(`--expires ${value}: give a duration such as 30d, 12h, 90m, or an ISO-8601 date`);
  }
  if (at <= now) throw new UsageError(`--expires ${value}: that is in the past`);
  return new Date(at).toISOString();
}

function describe(t: TokenInfo): string {
  const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry';
  return `${t.tokenId}  ${t.name.padEnd(20)} ${t.scope.padEnd(5)} ${t.prefix}…  ${state}  last used ${t.lastUsedAt ?? 'never'}`;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      scope: { type: 'string', default: 'read' },
      expires: { type: 'string' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, argument] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.scope !== 'read' && values.scope !== 'admin') throw new UsageError('--scope must be read or admin');
  if ((command === 'create' || command === 'revoke') && !argument) throw new UsageError(`${command} needs a NAME`);
  const expiresAt = parseExpiry(values.expires);
  const pool = new pg.Pool({ connectionString: databaseUrl(values['state-dir']), max: 1 });
  const store = new PostgresTokenStore(pool);
  try {
    switch (command) {
      case 'create': {
        const { token, info } = await createToken(store, { name: String(argument), scope: values.scope, expiresAt });
        process.stderr.write(`created ${describe(info)}\nthe token is shown only now; keep it:\n`);
        process.stdout.write(`${token}\n`);
        return 0;
      }
      case 'list': {
        const tokens = await listTokens(store);
        process.stdout.write(tokens.length ? `${tokens.map(describe).join('\n')}\n` : 'no tokens\n');
        return 0;
      }
      case 'revoke': {
        const revoked = await revokeToken(store, String(argument));
        if (revoked.length === 0) {
          process.stderr.write(`no active token has the id or name ${argument}\n`);
          return 1;
        }
        process.stdout.write(`${revoked.map((t) => `revoked ${describe(t)}`).join('\n')}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } finally {
    await pool.end();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`token: ${message}${error instanceof UsageError ? `\n${USAGE}` : ''}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
