/**
 * API bearer tokens: 256 random bits, shown once, stored as their SHA-256 hash. A fast unsalted
 * hash is enough for random tokens (there is no dictionary to try) and lets the API find a token
 * by its hash with one index lookup; the found hash is still compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StoredToken, TokenScope } from './query-ports.js';

/** Prefix of every token: makes a leaked one recognizable to secret scanners and to people. */
export const TOKEN_PREFIX = 'iotf_';
const TOKEN_SHAPE = /^iotf_[A-Za-z0-9_-]{43}$/;

export interface NewToken {
  /** The token itself: shown once, never stored. */
  readonly token: string;
  readonly hash: Uint8Array;
  /** The first characters, stored to tell tokens apart in listings. */
  readonly prefix: string;
}

export function hashToken(token: string): Uint8Array {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function generateToken(): NewToken {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6) };
}

/** Cheap shape check before any hashing or lookup: anything else is not a token of ours. */
export function looksLikeToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export type Verdict = 'ok' | 'unauthenticated' | 'forbidden';

/**
 * Whether `stored` (found by the hash of the presented token, or null) admits a request needing
 * `scope`. Revoked and expired tokens are unauthenticated (401); a read token on an admin route is
 * forbidden (403).
 */
export function authorize(
  presentedHash: Uint8Array,
  stored: StoredToken | null,
  scope: TokenScope,
  nowMs: number,
): Verdict {
  if (!stored) return 'unauthenticated';
  const storedHash = Buffer.from(stored.tokenHash);
  if (storedHash.length !== presentedHash.length || !timingSafeEqual(storedHash, presentedHash)) {
    return 'unauthenticated';
  }
  if (stored.revokedAt !== null) return 'unauthenticated';
  if (stored.expiresAt !== null && Date.parse(stored.expiresAt) <= nowMs) return 'unauthenticated';
  if (scope === 'admin' && stored.scope !== 'admin') return 'forbidden';
  return 'ok';
}
