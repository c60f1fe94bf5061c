/**
 * The Kafka door's test plumbing: a real Kafka-protocol broker (librdkafka's mock cluster, see
 * runtime/kafka/mock-cluster.ts), and ways to cut the network to the stream or to the broker.
 *
 * kcat is a Debian package, not an npm one: `.ci/run` installs it. Elsewhere, without kcat the
 * Kafka tests are skipped and say why ({@link kafkaSkipReason}); under CI=true its absence fails.
 */
import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';
import { KCAT } from '#runtime/kafka/mock-cluster.js';

export { type MockKafka, startMockKafka } from '#runtime/kafka/mock-cluster.js';

/** Why the Kafka tests cannot run here, or undefined when they can. Throws under CI=true. */
export function kafkaSkipReason(): string | undefined {
  if (KCAT) return undefined;
  const reason = 'kcat (Debian package kcat, librdkafka mock cluster) is not installed: apt-get install -y kcat';
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  console.warn(`[kafka tests skipped] ${reason}`);
  return reason;
}

/**
 * A TCP relay to a local server that can be cut: while `down`, open connections are destroyed
 * and new ones refused. Only a relay can make a real emulator unreachable and come back on the
 * same address, which is what an outage of the stream looks like to the bridge.
 */
export interface Relay {
  readonly endpoint: string;
  down(): void;
  up(): void;
  stop(): Promise<void>;
}

export async function startRelay(target: { host: string; port: number }): Promise<Relay> {
  let isDown = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    down: () => {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up: () => {
      isDown = false;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A kafkajs socket factory whose connections can be cut, as a broker restart cuts them: while
 * `down`, every open connection is destroyed and new ones fail. The mock cluster itself cannot
 * restart and keep its data (it lives in kcat's memory), so the outage is made on the wire.
 */
export interface CuttableNetwork {
  readonly socketFactory: ISocketFactory;
  down(): void;
  up(): void;
}

export function cuttableNetwork(): CuttableNetwork {
  let isDown = false;
  const open = new Set<net.Socket>();
  return {
    socketFactory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, 30_000);
      if (isDown) {
        setImmediate(() => socket.destroy(new Error('network cut by the test')));
        return socket;
      }
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      return socket;
    },
    down: () => {
      isDown = true;
      for (const s of open) s.destroy(new Error('network cut by the test'));
    },
    up: () => {
      isDown = false;
    },
  };
}
