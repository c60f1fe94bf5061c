/**
 * The Lambda API of the embedded host on loopback: `Invoke`
 * (`POST /2015-03-31/functions/{name}/invocations`), `ListFunctions`
 * (`GET /2015-03-31/functions/`) and `GetFunction` (`GET /2015-03-31/functions/{name}`), so
 * `@aws-sdk/client-lambda` and `aws lambda … --endpoint-url …` work against the embedded host
 * as against AWS: same status codes, same `X-Amz-Function-Error` / `X-Amz-Executed-Version` /
 * `X-Amz-Log-Result` headers, the same `ResourceNotFoundException` for an unknown function.
 * Signatures are not checked (loopback).
 */
import { open } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvocationOutcome } from './protocol.js';

/** A function's configuration as `GetFunction` and `ListFunctions` report it. */
export interface FunctionConfiguration {
  readonly FunctionName: string;
  readonly FunctionArn: string;
  readonly Runtime: string;
  readonly Handler: string;
  readonly Description: string;
  readonly Timeout: number;
  readonly MemorySize: number;
  readonly Version: string;
  readonly Environment: { readonly Variables: Readonly<Record<string, string>> };
  readonly [field: string]: unknown;
}

export interface InvokeTarget {
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvocationOutcome>;
  /** The function's log file, for `LogType: Tail`. */
  readonly logFile?: string;
  readonly configuration: FunctionConfiguration;
}

/** The functions the server knows, by any name AWS accepts (see `functionNameFrom`). */
export interface FunctionCatalog {
  resolve(functionName: string): InvokeTarget | undefined;
  /** Every function once, in a stable order. */
  list(): readonly InvokeTarget[];
}

export interface InvokeServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const FUNCTION = /^\/2015-03-31\/functions\/([^/]+)\/?$/;
const FUNCTIONS = /^\/2015-03-31\/functions\/?$/;
/** ListFunctions' default and largest page. */
const MAX_ITEMS = 50;

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  sendJson(
    res,
    status,
    { Type: 'User', message },
    { 'x-amzn-errortype': type, 'x-amzn-requestid': crypto.randomUUID() },
  );
}

/** The last 4 KB of a log file, base64, as Lambda's `X-Amz-Log-Result`. */
async function logTail(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(4096, size);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('base64');
  } finally {
    await handle.close();
  }
}

/** Resolves a FunctionName as AWS accepts it: name, full or partial ARN, with an optional qualifier. */
export function functionNameFrom(raw: string): string {
  const decoded = decodeURIComponent(raw);
  const arn = /^(?:arn:aws[a-z-]*:lambda:[^:]*:)?(?:\d{12}:)?function:([^:]+)(?::.+)?$/.exec(decoded);
  return arn?.[1] ?? decoded.split(':')[0] ?? decoded;
}

/** The body as JSON (`{}` when empty); `undefined` when it is not JSON. */
async function readJsonBody(req: http.IncomingMessage): Promise<{ event: unknown } | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (raw.trim() === '') return { event: {} };
  try {
    return { event: JSON.parse(raw) as unknown };
  } catch {
    return undefined;
  }
}

/** `Invoke`: RequestResponse, Event (202, not awaited) or DryRun (204). */
async function handleInvoke(req: http.IncomingMessage, res: http.ServerResponse, target: InvokeTarget): Promise<void> {
  const body = await readJsonBody(req);
  if (!body) {
    sendError(
      res,
      400,
      'InvalidRequestContentException',
      'Could not parse request body into json: the payload is not valid JSON',
    );
    return;
  }
  const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (type === 'DryRun') {
    res.writeHead(204).end();
    return;
  }
  if (type === 'Event') {
    void target.invoke(body.event);
    res.writeHead(202, { 'x-amzn-requestid': crypto.randomUUID() }).end();
    return;
  }
  if (type !== 'RequestResponse') {
    sendError(res, 400, 'InvalidParameterValueException', `Unsupported InvocationType ${type}`);
    return;
  }
  const outcome = await target.invoke(body.event);
  const headers: Record<string, string> = {
    'x-amz-executed-version': '$LATEST',
    'x-amzn-requestid': outcome.requestId,
  };
  if (req.headers['x-amz-log-type'] === 'Tail' && target.logFile) {
    headers['x-amz-log-result'] = await logTail(target.logFile).catch(() => '');
  }
  if (outcome.ok) sendJson(res, 200, outcome.payload, headers);
  else sendJson(res, 200, outcome.error, { ...headers, 'x-amz-function-error': outcome.functionError });
}

/** `ListFunctions`, paged by `Marker` (an offset, opaque to clients) and `MaxItems` (1 to 50). */
function handleList(url: URL, res: http.ServerResponse, catalog: FunctionCatalog): void {
  const all = catalog.list();
  const start = Number(url.searchParams.get('Marker') ?? 0);
  const maxItems = Number(url.searchParams.get('MaxItems') ?? MAX_ITEMS);
  if (!Number.isInteger(start) || start < 0 || !Number.isInteger(maxItems) || maxItems < 1 || maxItems > MAX_ITEMS) {
    sendError(res, 400, 'InvalidParameterValueException', 'Marker or MaxItems is not valid');
    return;
  }
  const page = all.slice(start, start + maxItems);
  const next = start + page.length < all.length ? { NextMarker: String(start + page.length) } : {};
  sendJson(res, 200, { Functions: page.map((f) => f.configuration), ...next });
}

/** `GetFunction`: the configuration; the code is on this machine, not in a bucket. */
function handleGet(res: http.ServerResponse, target: InvokeTarget): void {
  sendJson(res, 200, {
    Configuration: target.configuration,
    Code: { RepositoryType: 'S3', Location: '' },
    Tags: {},
  });
}

/** Which operation a request names, and its function if it names one. */
function route(
  req: http.IncomingMessage,
  url: URL,
): { operation: 'invoke' | 'get'; name: string } | { operation: 'list' } | undefined {
  const invoke = INVOKE.exec(url.pathname)?.[1];
  if (req.method === 'POST' && invoke) return { operation: 'invoke', name: functionNameFrom(invoke) };
  if (req.method !== 'GET') return undefined;
  if (FUNCTIONS.test(url.pathname)) return { operation: 'list' };
  const get = FUNCTION.exec(url.pathname)?.[1];
  return get ? { operation: 'get', name: functionNameFrom(get) } : undefined;
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  catalog: FunctionCatalog,
  region: string,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const op = route(req, url);
  if (!op) {
    sendError(res, 404, 'UnknownOperationException', `Unknown operation ${req.method} ${url.pathname}`);
    return;
  }
  if (op.operation === 'list') {
    handleList(url, res, catalog);
    return;
  }
  const target = catalog.resolve(op.name);
  if (!target) {
    sendError(
      res,
      404,
      'ResourceNotFoundException',
      `Function not found: arn:aws:lambda:${region}:000000000000:function:${op.name}`,
    );
    return;
  }
  if (op.operation === 'get') handleGet(res, target);
  else await handleInvoke(req, res, target);
}

export async function startInvokeServer(options: {
  readonly port: number;
  readonly host?: string;
  readonly functions: FunctionCatalog;
  readonly region: string;
}): Promise<InvokeServer> {
  const server = http.createServer((req, res) => {
    handle(req, res, options.functions, options.region).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'ServiceException', (error as Error).message);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
