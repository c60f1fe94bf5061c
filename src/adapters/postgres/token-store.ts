/**
 * PostgreSQL implementation of the {@link TokenStore} port: api_tokens holds SHA-256 hashes of
 * tokens, never the tokens. Used by the API (as `iot_api`: SELECT, INSERT and UPDATE of the
 * revocation and last-use columns) and by `npm run token`.
 */
import type pg from 'pg';
import type { StoredToken, TokenScope, TokenStore } from '#domain/query-ports.js';
import { isoText } from './sql-text.js';

const iso = isoText;

const COLUMNS = `token_id::text AS "tokenId", name, prefix, scope, token_hash AS "tokenHash",
  ${iso('created_at')} AS "createdAt", ${iso('expires_at')} AS "expiresAt", ${iso('revoked_at')} AS "revokedAt",
  ${iso('last_used_at')} AS "lastUsedAt"`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PostgresTokenStore implements TokenStore {
  constructor(private readonly pool: pg.Pool) {}

  async findByHash(hash: Uint8Array): Promise<StoredToken | null> {
    const { rows } = await this.pool.query<StoredToken>(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1`, [
      Buffer.from(hash),
    ]);
    return rows[0] ?? null;
  }

  async touch(tokenId: string): Promise<void> {
    await this.pool.query('UPDATE api_tokens SET last_used_at = now() WHERE token_id = $1', [tokenId]);
  }

  async create(token: {
    name: string;
    scope: TokenScope;
    tokenHash: Uint8Array;
    prefix: string;
    expiresAt: string | null;
  }): Promise<StoredToken> {
    const { rows } = await this.pool.query<StoredToken>(
      `INSERT INTO api_tokens (name, scope, token_hash, prefix, expires_at) VALUES ($1, $2, $3, $4, $5::timestamptz)
       RETURNING ${COLUMNS}`,
      [token.name, token.scope, Buffer.from(token.tokenHash), token.prefix, token.expiresAt],
    );
    const created = rows[0];
    if (!created) throw new Error('token insert returned no row');
    return created;
  }

  async list(): Promise<StoredToken[]> {
    return (await this.pool.query<StoredToken>(`SELECT ${COLUMNS} FROM api_tokens ORDER BY created_at, name`)).rows;
  }

  async revoke(idOrName: string): Promise<StoredToken[]> {
    const byId = UUID.test(idOrName);
    const { rows } = await this.pool.query<StoredToken>(
      `UPDATE api_tokens SET revoked_at = now()
       WHERE revoked_at IS NULL AND ${byId ? 'token_id = $1::uuid' : 'name = $1'}
       RETURNING ${COLUMNS}`,
      [idOrName],
    );
    return rows;
  }
}
