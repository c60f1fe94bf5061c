/**
 * The page's only way to the API: a bearer token from the browser session, problem+json errors
 * turned into typed errors the views can explain, and conditional GETs for live polling.
 */
import { appUrl } from './url-state.js';

const TOKEN_KEY = 'iot-first.token';

/** The token lives in sessionStorage only: closing the tab forgets it, and nothing writes a cookie. */
export const tokenStore = {
  get(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** 401: no token, a wrong one, or an expired one; the page asks for a token again. */
export class AuthError extends Error {}
/** 403: a valid token whose scope does not cover the request. */
export class ForbiddenError extends Error {}
/** The request never got an HTTP answer (server down, network gone). */
export class NetworkError extends Error {}
/** Any other non-2xx answer, with the problem's title and detail (RFC 9457). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function problemMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { title?: string; detail?: string };
    return [body.title, body.detail].filter(Boolean).join(': ') || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function send(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const token = tokenStore.get();
  if (!token) throw new AuthError('no token');
  let response: Response;
  try {
    response = await fetch(appUrl(path, document.baseURI), {
      headers: { ...headers, authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
  } catch (error) {
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
  if (response.status === 401) throw new AuthError(await problemMessage(response));
  if (response.status === 403) throw new ForbiddenError(await problemMessage(response));
  if (response.status !== 304 && !response.ok) throw new ApiProblem(response.status, await problemMessage(response));
  return response;
}

/** GET a JSON document from the API. */
export async function getJson<T>(path: string): Promise<T> {
  const response = await send(path);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiProblem(response.status, `the API sent something that is not JSON for ${path}`);
  }
}

/** A conditional GET: `null` when the server answers 304 Not Modified for `etag`. */
export async function getIfChanged<T>(
  path: string,
  etag: string | null,
): Promise<{ body: T; etag: string | null } | null> {
  const response = await send(path, etag ? { 'if-none-match': etag } : {});
  if (response.status === 304) return null;
  return { body: (await response.json()) as T, etag: response.headers.get('etag') };
}

/** Checks a token before keeping it: any read the token allows tells whether it is accepted. */
export async function checkToken(token: string): Promise<void> {
  const previous = tokenStore.get();
  tokenStore.set(token);
  try {
    await getJson('/api/health');
  } catch (error) {
    if (previous) tokenStore.set(previous);
    else tokenStore.clear();
    throw error;
  }
}
