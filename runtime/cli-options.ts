/**
 * Command-line options of `npm start` (pure, so they are unit-tested). Defaults are fixed
 * ports (documented in the README) so a user can attach tools to a known address; every port
 * can be overridden, and `0` asks the OS for a free one.
 */
import { parseArgs } from 'node:util';

export interface StartOptions {
  readonly producer: boolean;
  /** Readings per second the producer sends (one invocation every 2 s with rate * 2 readings). */
  readonly rate: number;
  readonly sensors: number;
  readonly seed: number | undefined;
  readonly fresh: boolean;
  readonly quiet: boolean;
  /** Listen on every interface instead of loopback only (`--listen-all`). */
  readonly listenAll: boolean;
  readonly stateDir: string | undefined;
  readonly ports: {
    readonly postgres: number;
    readonly kinesis: number;
    readonly sqs: number;
    readonly lambda: number;
    /** The MQTT door's broker (TLS), runtime/mqtt. */
    readonly mqtt: number;
  };
  /** Divides schedule periods: 6 runs the 1-minute aggregator every 10 s. */
  readonly scheduleSpeedUp: number;
  /** Kafka bootstrap servers (`host:port,…`): consume their topic into the bridge (`--kafka`). */
  readonly kafka: { readonly bootstrap: string; readonly topic: string | undefined } | undefined;
  readonly help: boolean;
}

export const DEFAULT_PORTS = { postgres: 54329, kinesis: 4567, sqs: 4576, lambda: 9001, mqtt: 8883 } as const;
const DEFAULT_RATE = 50;
const DEFAULT_SENSORS = 50;
/** The original's pace: one producer batch every 2 seconds. */
export const PRODUCER_PERIOD_MS = 2_000;

export const USAGE = `Usage: npm start -- [options]

Runs the whole pipeline locally: PostgreSQL, Kinesis (kinesalite), SQS (fauxqs) and a local
Lambda host running the real handlers. Prints "READY {json}" when ready (also written to
.iot-first/endpoints.json). Ctrl-C stops it cleanly.

  --no-producer          do not invoke the producer (attach your own)
  --rate <n>             readings per second from the producer (default ${DEFAULT_RATE})
  --sensors <n>          size of the simulated fleet (default ${DEFAULT_SENSORS})
  --seed <n>             make the producer's readings reproducible
  --fresh                start from empty state (embedded database, stream, queues, checkpoints)
  --quiet                one status line every 5 s instead of the live panel
  --schedule-speedup <n> run schedules n times faster (e.g. 6: aggregator every 10 s)
  --pg-port <n>          embedded PostgreSQL port (default ${DEFAULT_PORTS.postgres})
  --kinesis-port <n>     kinesalite port (default ${DEFAULT_PORTS.kinesis})
  --sqs-port <n>         fauxqs port (default ${DEFAULT_PORTS.sqs})
  --lambda-port <n>      Lambda Invoke API port (default ${DEFAULT_PORTS.lambda})
  --mqtt-port <n>        MQTT broker port, TLS with device certificates (default ${DEFAULT_PORTS.mqtt})
  --state-dir <path>     state folder (default $IOT_FIRST_STATE_DIR, else .iot-first in the project)
  --listen-all           listen on every network interface (default: loopback only)
  --kafka <host:port,…>  consume a Kafka topic into the stream through the Kafka bridge
  --kafka-topic <name>   the topic (default iot_sensor_data)
  -h, --help             this text

Environment: DATABASE_URL uses an existing PostgreSQL; KINESIS_ENDPOINT and SQS_ENDPOINT use
existing endpoints (LocalStack, say) instead of starting the emulators.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return value;
}

/** The flags `npm start` takes; `--help` prints them. */
const START_FLAGS = {
  'no-producer': { type: 'boolean' },
  rate: { type: 'string' },
  sensors: { type: 'string' },
  seed: { type: 'string' },
  fresh: { type: 'boolean' },
  quiet: { type: 'boolean' },
  'schedule-speedup': { type: 'string' },
  'pg-port': { type: 'string' },
  'kinesis-port': { type: 'string' },
  'sqs-port': { type: 'string' },
  'lambda-port': { type: 'string' },
  'mqtt-port': { type: 'string' },
  'state-dir': { type: 'string' },
  'listen-all': { type: 'boolean' },
  kafka: { type: 'string' },
  'kafka-topic': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `node:util`'s parser with its errors turned into usage errors. */
function parseStartFlags(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: START_FLAGS });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

export function parseStartOptions(argv: readonly string[]): StartOptions {
  const parsed = parseStartFlags(argv);
  const v = parsed.values;
  return {
    producer: !v['no-producer'],
    rate: integer('rate', v.rate, DEFAULT_RATE, 1, 50_000),
    sensors: integer('sensors', v.sensors, DEFAULT_SENSORS, 1, 10_000),
    seed: v.seed === undefined ? undefined : integer('seed', v.seed, 0, 0, 2 ** 32 - 1),
    fresh: v.fresh ?? false,
    quiet: v.quiet ?? false,
    listenAll: v['listen-all'] ?? false,
    stateDir: v['state-dir'],
    scheduleSpeedUp: integer('schedule-speedup', v['schedule-speedup'], 1, 1, 600),
    ports: {
      postgres: integer('pg-port', v['pg-port'], DEFAULT_PORTS.postgres, 0, 65535),
      kinesis: integer('kinesis-port', v['kinesis-port'], DEFAULT_PORTS.kinesis, 0, 65535),
      sqs: integer('sqs-port', v['sqs-port'], DEFAULT_PORTS.sqs, 0, 65535),
      lambda: integer('lambda-port', v['lambda-port'], DEFAULT_PORTS.lambda, 0, 65535),
      mqtt: integer('mqtt-port', v['mqtt-port'], DEFAULT_PORTS.mqtt, 0, 65535),
    },
    kafka: kafkaOption(v.kafka, v['kafka-topic']),
    help: v.help ?? false,
  };
}

const BOOTSTRAP = /^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

function kafkaOption(bootstrap: string | undefined, topic: string | undefined): StartOptions['kafka'] {
  if (bootstrap === undefined) {
    if (topic !== undefined) throw new UsageError('--kafka-topic needs --kafka <host:port>');
    return undefined;
  }
  if (!BOOTSTRAP.test(bootstrap)) throw new UsageError(`--kafka must be host:port[,host:port…] (got "${bootstrap}")`);
  if (topic !== undefined && !TOPIC.test(topic))
    throw new UsageError(`--kafka-topic must be a Kafka topic name: letters, digits, . _ - (got "${topic}")`);
  return { bootstrap, topic };
}

/** The producer event for tick `tick`: a fresh seed per tick, so reading ids never repeat. */
export function producerEvent(
  options: Pick<StartOptions, 'rate' | 'sensors' | 'seed'>,
  tick: number,
  now: Date,
): { count: number; sensors: number; seed?: number; startTime: string; intervalMs: number } {
  const count = options.rate * (PRODUCER_PERIOD_MS / 1000);
  return {
    count,
    sensors: options.sensors,
    // Each sensor reports ceil(count / sensors) times per batch: spread them over the period.
    intervalMs: Math.floor(PRODUCER_PERIOD_MS / Math.max(1, Math.ceil(count / options.sensors))),
    ...(options.seed !== undefined ? { seed: (options.seed + tick) % 2 ** 32 } : {}),
    startTime: now.toISOString(),
  };
}
