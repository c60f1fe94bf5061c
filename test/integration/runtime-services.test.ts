/**
 * The seam for the doors (runtime/service.ts): a service given to the stack starts after the
 * core parts with the host and the endpoints in hand, adds its entries to the READY document,
 * reports status lines, and is stopped with the stack; a service that fails to start fails the
 * whole start, and nothing started before it is left listening. The door here is a fixture
 * (a tiny HTTP server invoking a function), not one of the real doors.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackService } from '#runtime/service.js';
import { readyDocument, StartupError } from '#runtime/stack.js';
import { copyTopology, startTestStack, type TestStack, withFixtures } from '../support/runtime-stack.js';

const NO_SOURCES = { enable: { kinesis: false, sqs: false, schedules: false } };

/** An HTTP door that invokes the producer (here the echo fixture) for every request. */
function echoDoor(): StackService & { stopped: boolean; listenHost?: string } {
  const door: StackService & { stopped: boolean; listenHost?: string } = {
    name: 'echo door',
    stopped: false,
    async start(context) {
      door.listenHost = context.listenHost;
      let requests = 0;
      const server = http.createServer((_req, res) => {
        requests++;
        void context.host.invoke('producer', { via: 'door' }).then((outcome) => {
          res.writeHead(outcome.ok ? 200 : 502, { 'content-type': 'application/json' });
          res.end(JSON.stringify(outcome.ok ? outcome.payload : outcome.error));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, context.listenHost, resolve));
      const { port } = server.address() as AddressInfo;
      return {
        endpoints: { echoEndpoint: `http://127.0.0.1:${port}`, streamName: 'a door cannot replace this' },
        statusLines: () => [`echo door    ${requests} request(s)`],
        stop: async () => {
          door.stopped = true;
          await new Promise((resolve) => server.close(resolve));
        },
      };
    },
  };
  return door;
}

let stack: TestStack;
const door = echoDoor();

beforeAll(async () => {
  const t = withFixtures(copyTopology(), { producer: 'test/fixtures/handlers/echo.ts' });
  stack = await startTestStack({ topology: t, label: 'rt_services', host: NO_SOURCES, services: [door] });
});
let closed = false;
afterAll(async () => {
  if (!closed) await stack?.close();
});

describe('stack services (the doors seam)', () => {
  it('a service starts on loopback with the host at hand, adds its READY entries and status lines', async () => {
    expect(door.listenHost).toBe('127.0.0.1');
    const ready = readyDocument(stack);
    expect(ready.streamName).toBe(stack.endpoints.streamName);
    expect(ready.lambdaEndpoint).toBe(stack.endpoints.lambdaEndpoint);
    const answer = (await (await fetch(ready.echoEndpoint as string)).json()) as { event: unknown };
    expect(answer.event).toEqual({ via: 'door' });
    expect(stack.services.flatMap((s) => s.statusLines?.() ?? [])).toEqual(['echo door    1 request(s)']);
  });

  it('a service that cannot start fails the start, naming it, and stops everything started before', async () => {
    const before = echoDoor();
    const broken: StackService = {
      name: 'broken door',
      start: async () => {
        throw new Error('port taken');
      },
    };
    const t = withFixtures(copyTopology(), { producer: 'test/fixtures/handlers/echo.ts' });
    const failed = await startTestStack({
      topology: t,
      label: 'rt_services_fail',
      host: NO_SOURCES,
      services: [before, broken],
    }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StartupError);
    expect((failed as Error).message).toBe('cannot start broken door: port taken');
    expect(before.stopped).toBe(true);
  });

  it('stopping the stack stops its services', async () => {
    closed = true;
    await stack.close();
    expect(door.stopped).toBe(true);
  });
});
