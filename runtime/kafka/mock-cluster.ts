/**
 * librdkafka's mock cluster, a real Kafka-protocol broker in one process: Debian's `kcat`
 * started with `-X test.mock.num.brokers=1` (its standard input held open) logs
 * `bootstrap.servers=127.0.0.1:PORT`. Topics are created on first use, with 4 partitions; the
 * data lives in kcat's memory and goes with it.
 *
 * Used by the Kafka door's tests and benchmark, and by anyone who wants a throwaway broker
 * without installing Kafka. kcat is a Debian package (`apt-get install -y kcat`), not an npm one.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Kafka, logLevel, type Producer } from 'kafkajs';

/** kcat's path, or undefined when it is not installed. */
export const KCAT = spawnSync('sh', ['-c', 'command -v kcat'], { encoding: 'utf8' }).stdout.trim() || undefined;

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
