/**
 * The Lambda Invoke API on loopback (`POST /2015-03-31/functions/{name}/invocations`), so
 * `@aws-sdk/client-lambda`'s InvokeCommand and `aws lambda invoke --endpoint-url …` work
 * against the embedded host exactly as against AWS or LocalStack: same status codes, same
 * `X-Amz-Function-Error` / `X-Amz-Executed-Version` / `X-Amz-Log-Result` headers, the same
 * `ResourceNotFoundException` for an unknown function. Signatures are not checked (loopback).
 */
import { open } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InvocationOutcome } from './protocol.js';

export interface InvokeTarget {
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvocationOutcome>;
  /** The function's log file, for `LogType: Tail`. */
  readonly logFile?: string;
}

export interface InvokeServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

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

export async function startInvokeServer(options: {
  readonly port: number;
  readonly host?: string;
  readonly resolve: (functionName: string) => InvokeTarget | undefined;
  readonly region: string;
}): Promise<InvokeServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = ROUTE.exec(url.pathname);
    if (req.method !== 'POST' || !match?.[1]) {
      sendError(res, 404, 'UnknownOperationException', `Unknown operation ${req.method} ${url.pathname}`);
      return;
    }
    const name = functionNameFrom(match[1]);
    const target = options.resolve(name);
    if (!target) {
      sendError(
        res,
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${options.region}:000000000000:function:${name}`,
      );
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let event: unknown = {};
        if (raw.trim() !== '') {
          try {
            event = JSON.parse(raw);
          } catch {
            sendError(
              res,
              400,
              'InvalidRequestContentException',
              'Could not parse request body into json: the payload is not valid JSON',
            );
            return;
          }
        }
        const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
        if (type === 'DryRun') {
          res.writeHead(204).end();
          return;
        }
        if (type === 'Event') {
          void target.invoke(event);
          res.writeHead(202, { 'x-amzn-requestid': crypto.randomUUID() }).end();
          return;
        }
        if (type !== 'RequestResponse') {
          sendError(res, 400, 'InvalidParameterValueException', `Unsupported InvocationType ${type}`);
          return;
        }
        const outcome = await target.invoke(event);
        const headers: Record<string, string> = {
          'x-amz-executed-version': '$LATEST',
          'x-amzn-requestid': outcome.requestId,
        };
        if (req.headers['x-amz-log-type'] === 'Tail' && target.logFile) {
          headers['x-amz-log-result'] = await logTail(target.logFile).catch(() => '');
        }
        if (outcome.ok) sendJson(res, 200, outcome.payload, headers);
        else sendJson(res, 200, outcome.error, { ...headers, 'x-amz-function-error': outcome.functionError });
      })().catch((error: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'ServiceException', (error as Error).message);
      });
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
