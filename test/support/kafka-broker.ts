/**
 * A real Kafka-protocol broker for the Kafka door's tests: librdkafka's mock cluster, started by
 * Debian's `kcat` (`-X test.mock.num.brokers=1`, its standard input held open), on a port it
 * picks. Topics are created on first use, with 4 partitions.
 *
 * kcat is a Debian package, not an npm one: `.ci/run` installs it. Elsewhere, without kcat the
 * Kafka tests are skipped and say why ({@link kafkaSkipReason}); under CI=true its absence fails.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { type ISocketFactory, Kafka, logLevel, type Producer } from 'kafkajs';

export const KCAT = spawnSync('sh', ['-c', 'command -v kcat'], { encoding: 'utf8' }).stdout.trim() || undefined;

/** Why the Kafka tests cannot run here, or undefined when they can. Throws under CI=true. */
export function kafkaSkipReason(): string | undefined {
  if (KCAT) return undefined;
  const reason = 'kcat (Debian package kcat, librdkafka mock cluster) is not installed: apt-get install -y kcat';
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  console.warn(`[kafka tests skipped] ${reason}`);
  return reason;
}

export interface MockKafka {
  readonly bootstrap: string;
  /** Produces lines with kcat itself (`-K '|'`: `key|value`; a line without '|' has a null key). */
  produceWithKcat(topic: string, lines: readonly string[]): Promise<void>;
  /** A connected kafkajs producer (disconnected by stop). */
  producer(): Promise<Producer>;
  stop(): Promise<void>;
}

export async function startMockKafka(): Promise<MockKafka> {
  if (!KCAT) throw new Error('kcat is not installed');
  const child: ChildProcess = spawn(
    KCAT,
    ['-b', '127.0.0.1:1', '-X', 'test.mock.num.brokers=1', '-d', 'mock', '-P', '-t', 'mock_cluster_keepalive'],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`kcat mock cluster did not start: ${log.slice(-500)}`)), 15_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const m = /bootstrap\.servers=([0-9.:,]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        child.stderr?.removeAllListeners('data');
        child.stderr?.resume();
        resolve(m[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`kcat exited (${code}) before the mock cluster started: ${log}`)));
  });
  const kafka = new Kafka({ clientId: 'iot-first-test', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING });
  const producers: Producer[] = [];
  return {
    bootstrap,
    produceWithKcat: (topic, lines) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(KCAT, ['-b', bootstrap, '-P', '-t', topic, '-K', '|', '-Z'], {
          stdio: ['pipe', 'ignore', 'pipe'],
        });
        let err = '';
        p.stderr?.on('data', (c: Buffer) => {
          err += c.toString();
        });
        p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}: ${err}`))));
        p.stdin?.end(`${lines.join('\n')}\n`);
      }),
    producer: async () => {
      const producer = kafka.producer({ allowAutoTopicCreation: true });
      await producer.connect();
      producers.push(producer);
      return producer;
    },
    stop: async () => {
      await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      child.kill('SIGTERM');
      await exited;
    },
  };
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
