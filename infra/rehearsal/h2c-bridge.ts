/**
 * An HTTP/2 (cleartext, prior knowledge) front for kinesalite. The AWS SDK's Kinesis client
 * speaks HTTP/2 unless given another request handler; the bundles create theirs with the SDK's
 * defaults when `KINESIS_ENDPOINT` is unset, as on LocalStack and AWS, whose endpoints speak
 * HTTP/2. kinesalite speaks HTTP/1.1 only, so the rehearsal points the functions at this bridge,
 * which forwards each stream as one HTTP/1.1 request. The embedded stack's own clients keep
 * talking to kinesalite directly.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface H2cBridge {
  readonly url: string;
  /** Requests forwarded, for the summary (proves the functions used the stream). */
  readonly forwarded: () => number;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

function forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, target: URL): void {
  const outgoing: http.OutgoingHttpHeaders = { host: target.host };
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') && v !== undefined) outgoing[k] = v;
  const request = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: String(headers[':method'] ?? 'POST'),
      path: String(headers[':path'] ?? '/'),
      headers: outgoing,
    },
    (response) => {
      const back: http2.OutgoingHttpHeaders = { ':status': response.statusCode ?? 502 };
      for (const [k, v] of Object.entries(response.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) back[k] = v;
      if (stream.destroyed) return void response.resume();
      stream.respond(back);
      response.pipe(stream);
    },
  );
  request.on('error', (error) => {
    if (stream.destroyed || stream.headersSent) return void stream.destroy();
    stream.respond({ ':status': 502 });
    stream.end(error.message);
  });
  stream.on('error', () => request.destroy());
  stream.pipe(request);
}

export async function startH2cBridge(targetUrl: string): Promise<H2cBridge> {
  const target = new URL(targetUrl);
  let forwarded = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    forwarded++;
    forward(stream, headers, target);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
