/**
 * The PostgreSQL pool of one Lambda container: created on first use, then reused by every
 * invocation the container serves. Small on purpose (a container handles one batch at a
 * time); scale comes from concurrent containers, bounded by the database's connection limit
 * (or RDS Proxy).
 *
 * Credentials come from `DATABASE_URL` (embedded stack, tests) or from a Secrets Manager
 * secret in RDS's JSON shape (AWS, LocalStack). The secret is cached and re-read after a TTL,
 * and at once when the database refuses the cached credentials (a rotation changes the password
 * before the secret), so a rotated password is picked up by new connections without a cold start.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { z } from 'zod';
import { ConfigurationError } from '#config/env.js';

export type DatabaseSource =
  | { readonly kind: 'url'; readonly url: string }
  | {
      readonly kind: 'secret';
      readonly secretArn: string;
      readonly region: string;
      readonly endpoint?: string | undefined;
      /** Overrides the secret's host (an RDS Proxy endpoint, say). */
      readonly hostOverride?: string | undefined;
      readonly ssl: boolean;
      /** How long a read secret is trusted before it is read again (default 5 minutes). */
      readonly secretTtlMs?: number;
    };

const rdsSecretShape = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  dbname: z.string().min(1).default('postgres'),
});
type RdsSecret = z.output<typeof rdsSecretShape>;

const SECRET_TTL_MS = 5 * 60_000;

/** Reads the database source from the environment: DATABASE_URL wins, else DB_SECRET_ARN. */
export function databaseSourceFromEnv(env: Record<string, string | undefined> = process.env): DatabaseSource {
  if (env.DATABASE_URL) return { kind: 'url', url: env.DATABASE_URL };
  if (env.DB_SECRET_ARN) {
    return {
      kind: 'secret',
      secretArn: env.DB_SECRET_ARN,
      region: env.AWS_REGION ?? 'us-east-1',
      endpoint: env.SECRETS_MANAGER_ENDPOINT,
      hostOverride: env.DB_HOST_OVERRIDE,
      ssl: env.DB_SSL !== 'false',
    };
  }
  throw new ConfigurationError(
    'Invalid configuration: set DATABASE_URL, or DB_SECRET_ARN naming a Secrets Manager secret',
  );
}

interface SecretReader {
  /** The secret, from the cache while it is fresh. */
  read(): Promise<RdsSecret>;
  /** Forget the cached value: the next read asks Secrets Manager. */
  invalidate(): void;
}

function secretReader(source: Extract<DatabaseSource, { kind: 'secret' }>): SecretReader {
  const client = new SecretsManagerClient({
    region: source.region,
    ...(source.endpoint ? { endpoint: source.endpoint } : {}),
  });
  let cached: { value: RdsSecret; expires: number } | undefined;
  const read = async (): Promise<RdsSecret> => {
    if (cached && cached.expires > Date.now()) return cached.value;
    const out = await client.send(new GetSecretValueCommand({ SecretId: source.secretArn }));
    let json: unknown;
    try {
      json = JSON.parse(out.SecretString ?? '{}');
    } catch {
      // Never pass the parser's message on: it quotes the start of the secret.
      throw new ConfigurationError(
        `Database secret ${source.secretArn} is not JSON in RDS's shape (username, password, host, port, dbname)`,
      );
    }
    const parsed = rdsSecretShape.safeParse(json);
    if (!parsed.success) {
      // Name the fields, never their values.
      throw new ConfigurationError(
        `Database secret ${source.secretArn} lacks ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
      );
    }
    cached = { value: parsed.data, expires: Date.now() + (source.secretTtlMs ?? SECRET_TTL_MS) };
    return parsed.data;
  };
  return {
    read,
    invalidate: () => {
      cached = undefined;
    },
  };
}

/**
 * What PostgreSQL answers a connection whose credentials no longer hold: a wrong password
 * (28P01) or a role that cannot log in any more (28000).
 */
const CREDENTIALS_REFUSED = new Set(['28P01', '28000']);

type ConnectCallback = (error: Error | undefined, client?: pg.PoolClient, done?: (release?: unknown) => void) => void;

/**
 * A rotation changes the password in the database before the secret, and the cache may hold
 * the old one for up to its TTL: without this, every new connection of a warm container would
 * be refused for minutes after each rotation. When the database refuses the credentials, the
 * secret is read again and the connection tried once more with what it says now (a new
 * password, or another user: then the pool is retired, see {@link createPool}). pg-pool's own
 * `query` goes through `connect` with a callback, so both forms are covered.
 */
function rereadingSecretOnRefusal(pool: pg.Pool, secret: SecretReader): pg.Pool {
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const connectOrReread = async (): Promise<pg.PoolClient> => {
    try {
      return await connect();
    } catch (error) {
      if (!CREDENTIALS_REFUSED.has((error as { code?: string }).code ?? '')) throw error;
      secret.invalidate();
      return connect();
    }
  };
  const connectAnyForm = (callback?: ConnectCallback): Promise<pg.PoolClient> | undefined => {
    const attempt = connectOrReread();
    if (!callback) return attempt;
    attempt.then(
      (client) => callback(undefined, client, (release) => client.release(release as Error | boolean | undefined)),
      (error: Error) => callback(error),
    );
    return undefined;
  };
  (pool as unknown as { connect: typeof connectAnyForm }).connect = connectAnyForm;
  return pool;
}

/**
 * An idle connection dropped by the server (restart, failover, idle timeout) makes the pool emit
 * 'error'; unheard, that event would crash the container. The pool discards such a client by
 * itself, so noting it is all there is to do.
 */
function survivingIdleErrors(pool: pg.Pool): pg.Pool {
  pool.on('error', (error) => {
    console.warn(JSON.stringify({ level: 'WARN', message: 'idle database connection lost', error: error.message }));
  });
  return pool;
}

export class DatabaseUserRotatedError extends Error {
  override readonly name = 'DatabaseUserRotatedError';
}

/**
 * Builds a pool for the source. Callers keep one per container (see {@link sharedPool}).
 *
 * Server-side limits keep a container that dies mid-transaction (a Lambda timeout) from holding
 * row locks that would stall every other writer and the aggregator.
 */
export interface PoolOptions {
  readonly max?: number;
  /** Longest statement, in ms; 0 for none (migrations that rebuild indexes need that). */
  readonly statementTimeoutMs?: number;
}

export async function createPool(source: DatabaseSource, options: PoolOptions = {}): Promise<pg.Pool> {
  const common = {
    max: options.max ?? 2,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: 30_000,
    application_name: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'iot-first',
  };
  if (source.kind === 'url') return survivingIdleErrors(new pg.Pool({ ...common, connectionString: source.url }));
  const secret = secretReader(source);
  const first = await secret.read();
  const pool = survivingIdleErrors(
    new pg.Pool({
      ...common,
      host: source.hostOverride ?? first.host,
      port: first.port,
      database: first.dbname,
      user: first.username,
      // Multi-user rotation switches the secret to another user (name_clone). This pool's user is
      // fixed, so once the secret names another one the pool is retired and rebuilt.
      password: async () => {
        const current = await secret.read();
        if (current.username !== first.username) {
          staleSources.add(source);
          throw new DatabaseUserRotatedError(
            `database user rotated from ${first.username} to ${current.username}; reconnecting`,
          );
        }
        return current.password;
      },
      // Verified TLS: on Lambda, NODE_EXTRA_CA_CERTS points Node at the runtime's RDS CA bundle.
      ssl: source.ssl ? { rejectUnauthorized: true } : false,
    }),
  );
  return rereadingSecretOnRefusal(pool, secret);
}

/** Sources whose pool saw its user rotated away; {@link sharedPool} rebuilds those. */
const staleSources = new WeakSet<DatabaseSource>();

let shared: { source: DatabaseSource; pool: Promise<pg.Pool> } | undefined;

/** The container's pool, created on first call from the environment (again after a user rotation). */
export function sharedPool(): Promise<pg.Pool> {
  if (shared && staleSources.has(shared.source)) {
    const retired = shared.pool;
    shared = undefined;
    void retired.then((pool) => pool.end()).catch(() => undefined);
  }
  if (!shared) {
    const source = databaseSourceFromEnv();
    const pool = createPool(source).catch((error: unknown) => {
      shared = undefined;
      throw error;
    });
    shared = { source, pool };
  }
  return shared.pool;
}
