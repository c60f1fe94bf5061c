/**
 * Token use cases: authenticate a bearer token for a scope (with a short cache, so 200 pollers do
 * not each cost a lookup per request), and create, list and revoke tokens (`npm run token`, and
 * the admin routes of the API).
 */
import type { TokenInfo } from '#domain/api.js';
import { authorize, generateToken, hashToken, looksLikeToken, type Verdict } from '#domain/api-token.js';
import type { StoredToken, TokenApi, TokenScope, TokenStore } from '#domain/query-ports.js';

export interface AuthenticatorOptions {
  /** How long a looked-up token is trusted: a revocation takes effect within this time. */
  readonly cacheMs?: number;
  /** At most one last-use update per token per this interval. */
  readonly touchEveryMs?: number;
  readonly now?: () => number;
}

export type Authenticate = (token: string | undefined, scope: TokenScope) => Promise<Verdict>;

export function createAuthenticator(store: TokenStore, options: AuthenticatorOptions = {}): Authenticate {
  const cacheMs = options.cacheMs ?? 5_000;
  const touchEveryMs = options.touchEveryMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { stored: StoredToken | null; until: number }>();
  const touched = new Map<string, number>();

  async function lookup(hash: Uint8Array): Promise<StoredToken | null> {
    const id = Buffer.from(hash).toString('hex');
    const hit = cache.get(id);
    if (hit && hit.until > now()) return hit.stored;
    const stored = await store.findByHash(hash);
    if (cache.size > 10_000) cache.clear();
    cache.set(id, { stored, until: now() + cacheMs });
    return stored;
  }

  return async (token, scope) => {
    if (token === undefined || !looksLikeToken(token)) return 'unauthenticated';
    const hash = hashToken(token);
    const stored = await lookup(hash);
    const verdict = authorize(hash, stored, scope, now());
    if (verdict === 'ok' && stored && (touched.get(stored.tokenId) ?? 0) + touchEveryMs <= now()) {
      touched.set(stored.tokenId, now());
      // Best effort: a failed last-use update never fails the request.
      store.touch(stored.tokenId).catch(() => undefined);
    }
    return verdict;
  };
}

export function tokenInfo(stored: StoredToken): TokenInfo {
  const { tokenHash: _hash, ...info } = stored;
  return info;
}

export async function createToken(
  store: TokenStore,
  request: { name: string; scope: TokenScope; expiresInDays?: number | undefined; expiresAt?: string | null },
): Promise<{ token: string; info: TokenInfo }> {
  const fresh = generateToken();
  const expiresAt =
    request.expiresAt ??
    (request.expiresInDays === undefined
      ? null
      : new Date(Date.now() + request.expiresInDays * 86_400_000).toISOString());
  const stored = await store.create({
    name: request.name,
    scope: request.scope,
    tokenHash: fresh.hash,
    prefix: fresh.prefix,
    expiresAt,
  });
  return { token: fresh.token, info: tokenInfo(stored) };
}

export async function listTokens(store: TokenStore): Promise<TokenInfo[]> {
  return (await store.list()).map(tokenInfo);
}

export async function revokeToken(store: TokenStore, idOrName: string): Promise<TokenInfo[]> {
  return (await store.revoke(idOrName)).map(tokenInfo);
}

/** The token use cases bound to one store, as the HTTP adapter takes them. */
export function tokenApi(store: TokenStore, options: AuthenticatorOptions = {}): TokenApi {
  return {
    authenticate: createAuthenticator(store, options),
    create: (request) => createToken(store, request),
    list: () => listTokens(store),
    revoke: (idOrName) => revokeToken(store, idOrName),
  };
}
