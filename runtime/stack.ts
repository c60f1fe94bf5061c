/**
 * The embedded stack: PostgreSQL (embedded or `DATABASE_URL`), Kinesis and SQS (emulators on
 * loopback or existing endpoints), migrations, the stream and queues from the topology, and the
 * local Lambda host. Used by `npm start` and by the tests, so the tests run what users run.
 *
 * Start-up is all-or-nothing: if any part fails, the parts already started are stopped and one
 * error names the cause, so a failed start never leaves a server behind.
 */

import { appendFileSync, mkdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { createKinesisClient, createSqsClient } from '#adapters/aws/clients.js';
import { sleep } from '#adapters/retry.js';
import { migrate } from '#db/migrate.js';
import { topology as defaultTopology, type QueueId, type Topology } from '#topology.js';
import { leveldownAvailable, startKinesalite, startSqsEmulator } from './embedded/emulators.js';
import { ensureDatabase, postgresDataDir, startEmbeddedPostgres } from './embedded/postgres.js';
import { replayJournal, SqsJournal } from './embedded/sqs-journal.js';
import { freePort } from './free-port.js';
import { PostgresCheckpointStore } from './host/checkpoints.js';
import { LambdaHost, type LambdaHostOptions } from './host/lambda-host.js';

export interface Endpoints {
  readonly kinesisEndpoint: string;
  readonly sqsEndpoint: string;
  readonly lambdaEndpoint: string;
  readonly databaseUrl: string;
  readonly streamName: string;
  readonly errorsQueueUrl: string;
  readonly failuresQueueUrl: string;
  readonly region: string;
}

export interface StackOptions {
  readonly projectRoot: string;
  /** Runtime state: kinesalite data, function logs, endpoints.json (default `.iot-first/`). */
  readonly stateDir: string;
  readonly region?: string;
  readonly topology?: Topology;
  /** Use this PostgreSQL instead of starting one. */
  readonly databaseUrl?: string | undefined;
  readonly kinesisEndpoint?: string | undefined;
  readonly sqsEndpoint?: string | undefined;
  /** Ports of the parts this process starts; 0 asks the OS. */
  readonly ports: {
    readonly postgres: number;
    readonly kinesis: number;
    readonly sqs: number;
    readonly lambda: number;
  };
  /** Start from empty state (see README: an external database is left as is). */
  readonly fresh?: boolean;
  /** Keep kinesalite's data in `<stateDir>/kinesis` across restarts (when leveldown loads). */
  readonly persistKinesis?: boolean;
  /**
   * Journal the embedded fauxqs's queues in `<stateDir>/sqs-journal.ndjson` and re-send what was
   * outstanding at the last stop or crash (runtime/embedded/sqs-journal.ts). No effect with
   * `sqsEndpoint`: an external SQS keeps its own messages.
   */
  readonly persistSqs?: boolean;
  readonly scheduleSpeedUp?: number;
  readonly host?: Pick<LambdaHostOptions, 'enable' | 'pollIntervalMs' | 'retryDelayMs'>;
  /** Extra variables for every function (after the stack's own). */
  readonly environment?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface RunningStack {
  readonly endpoints: Endpoints;
  readonly host: LambdaHost;
  readonly topology: Topology;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  stop(): Promise<void>;
}

/** A start-up failure with a message meant for the terminal. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

const EMBEDDED_DATABASE = 'iot_first';

/** The embedded SQS's write-ahead journal, in the state folder. */
export function sqsJournalFile(stateDir: string): string {
  return path.join(stateDir, 'sqs-journal.ndjson');
}

/**
 * A runtime killed with SIGKILL cannot stop its PostgreSQL server, which then keeps the data
 * directory and the port. On the next start, a server still running on this state folder's
 * data directory (its postmaster.pid names a live process) is ours: stop it (fast shutdown)
 * instead of failing with "port in use".
 */
async function stopOrphanedPostgres(dataDir: string, log: (line: string) => void): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return;
  log(`stopping PostgreSQL (pid ${pid}) left running by a previous run on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && alive(); i++) await sleep(100);
  if (alive())
    throw new StartupError(
      `PostgreSQL (pid ${pid}) from a previous run on ${dataDir} did not stop; stop it and try again`,
    );
}

/** Fails fast with a clear message when a fixed port is already taken. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          `port ${port} for ${what} is already in use (${error.code}); stop what uses it or pass another port`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

async function checkDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new StartupError(`cannot connect to DATABASE_URL (${describeUrl(url)}): ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureStream(kinesis: KinesisClient, name: string, shardCount: number): Promise<void> {
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
  for (let i = 0; i < 100; i++) {
    const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new StartupError(`stream ${name} did not become ACTIVE`);
}

/** Creates a queue unless it exists; an existing queue is used as it is (its attributes are its owner's). */
async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (!/NonExistentQueue|QueueDoesNotExist/.test((error as Error).name)) throw error;
  }
  url ??= (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
  if (!url) throw new StartupError(`queue ${name} has no URL`);
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: attrs.Attributes?.QueueArn ?? '' };
}

/** Creates the topology's queues, each with its own DLQ and redrive policy; returns their URLs. */
export async function ensureQueues(sqs: SQSClient, topology: Topology): Promise<Record<QueueId, string>> {
  const urls: Partial<Record<QueueId, string>> = {};
  for (const [id, q] of Object.entries(topology.queues) as [QueueId, Topology['queues'][QueueId]][]) {
    const retention = String(q.retentionSeconds);
    const dlq = await ensureQueue(sqs, q.deadLetterQueueName, { MessageRetentionPeriod: retention });
    const queue = await ensureQueue(sqs, q.name, {
      VisibilityTimeout: String(q.visibilityTimeoutSeconds),
      MessageRetentionPeriod: retention,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: q.maxReceiveCount }),
    });
    urls[id] = queue.url;
  }
  return urls as Record<QueueId, string>;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const topology = options.topology ?? defaultTopology;
  const region = options.region ?? 'us-east-1';
  const logDir = path.join(options.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = options.log ?? (() => undefined);
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    cleanups.length = 0;
  };

  try {
    if (!options.databaseUrl) await stopOrphanedPostgres(postgresDataDir(options.stateDir), log);
    if (options.fresh) {
      await rm(path.join(options.stateDir, 'kinesis'), { recursive: true, force: true });
      await rm(sqsJournalFile(options.stateDir), { force: true });
      if (!options.databaseUrl) await rm(postgresDataDir(options.stateDir), { recursive: true, force: true });
    }
    // Ports first, so a taken port is reported before anything starts.
    if (!options.databaseUrl) await assertPortFree(options.ports.postgres, 'PostgreSQL');
    if (!options.kinesisEndpoint) await assertPortFree(options.ports.kinesis, 'Kinesis (kinesalite)');
    if (!options.sqsEndpoint) await assertPortFree(options.ports.sqs, 'SQS (fauxqs)');
    await assertPortFree(options.ports.lambda, 'the Lambda Invoke API');

    let databaseUrl: string;
    if (options.databaseUrl) {
      await checkDatabase(options.databaseUrl);
      databaseUrl = options.databaseUrl;
    } else {
      const pgLog = path.join(logDir, 'postgres.log');
      const server = await startEmbeddedPostgres({
        stateDir: options.stateDir,
        // PostgreSQL cannot bind port 0 itself: ask the OS for a free one.
        port: options.ports.postgres === 0 ? await freePort() : options.ports.postgres,
        persistent: true,
        onLog: (line) => appendFileSync(pgLog, `${line}\n`),
      }).catch((error: Error) => {
        throw new StartupError(error.message);
      });
      cleanups.push(() => server.stop());
      await ensureDatabase(server.adminUrl, EMBEDDED_DATABASE);
      databaseUrl = server.urlFor(EMBEDDED_DATABASE);
    }
    const applied = await migrate({ database: databaseUrl });
    if (applied.length > 0) log(`migrations applied: ${applied.join(', ')}`);

    let kinesisEndpoint = options.kinesisEndpoint;
    if (!kinesisEndpoint) {
      const persist = (options.persistKinesis ?? false) && leveldownAvailable();
      const emulator = await startKinesalite({
        port: options.ports.kinesis,
        dataDir: persist ? path.join(options.stateDir, 'kinesis') : undefined,
      });
      cleanups.push(() => emulator.stop());
      kinesisEndpoint = emulator.url;
    }
    let sqsEndpoint = options.sqsEndpoint;
    let journal: SqsJournal | undefined;
    if (!sqsEndpoint) {
      if (options.persistSqs) {
        journal = SqsJournal.open({ file: sqsJournalFile(options.stateDir), log });
        const opened = journal;
        // Closed by the emulator's stop; this covers a failure before the emulator is up.
        cleanups.push(async () => opened.close());
      }
      const emulator = await startSqsEmulator({ port: options.ports.sqs, region, journal });
      cleanups.push(() => emulator.stop());
      sqsEndpoint = emulator.url;
    }

    const kinesis = createKinesisClient({ region, endpoint: kinesisEndpoint });
    const sqs = createSqsClient({ region, endpoint: sqsEndpoint });
    cleanups.push(async () => {
      kinesis.destroy();
      sqs.destroy();
    });
    await ensureStream(kinesis, topology.stream.name, topology.stream.shardCount).catch((error: Error) => {
      throw new StartupError(`cannot create the stream at ${kinesisEndpoint}: ${error.message}`);
    });
    const queueUrls = await ensureQueues(sqs, topology).catch((error: Error) => {
      throw new StartupError(`cannot create the queues at ${sqsEndpoint}: ${error.message}`);
    });
    // Before the host polls: messages accepted by the last run and not yet drained go back in.
    if (journal && journal.recovered.outstanding > 0) {
      const { replayed, kept } = await replayJournal(journal, sqs, log);
      log(
        `sqs journal: ${replayed} message(s) outstanding at the last stop re-sent to their queues${kept > 0 ? `, ${kept} kept for a later start` : ''}`,
      );
    }

    const checkpoints = await PostgresCheckpointStore.open(databaseUrl);
    cleanups.push(() => checkpoints.close());
    if (options.fresh && options.databaseUrl) await checkpoints.clear();

    const host = await LambdaHost.start({
      topology,
      projectRoot: options.projectRoot,
      region,
      logDir,
      environment: {
        DATABASE_URL: databaseUrl,
        STREAM_NAME: topology.stream.name,
        ERRORS_QUEUE_URL: queueUrls.errors,
        FAILURES_QUEUE_URL: queueUrls.failures,
        KINESIS_ENDPOINT: kinesisEndpoint,
        SQS_ENDPOINT: sqsEndpoint,
        PAYLOAD_CAP_BYTES: String(topology.payloadCapBytes),
        POWERTOOLS_METRICS_NAMESPACE: 'IoTFirst',
        ...options.environment,
      },
      kinesis,
      sqs,
      queueUrls,
      checkpoints,
      lambdaPort: options.ports.lambda,
      scheduleSpeedUp: options.scheduleSpeedUp ?? 1,
      ...options.host,
      log,
    });
    cleanups.push(() => host.stop());

    const endpoints: Endpoints = {
      kinesisEndpoint,
      sqsEndpoint,
      lambdaEndpoint: host.lambdaEndpoint,
      databaseUrl,
      streamName: topology.stream.name,
      errorsQueueUrl: queueUrls.errors,
      failuresQueueUrl: queueUrls.failures,
      region,
    };
    return { endpoints, host, topology, kinesis, sqs, stop: stopAll };
  } catch (error) {
    await stopAll();
    if (error instanceof StartupError) throw error;
    throw new StartupError((error as Error).message);
  }
}
