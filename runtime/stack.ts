/**
 * The embedded stack: PostgreSQL (embedded or `DATABASE_URL`), Kinesis and SQS (emulators on
 * loopback or existing endpoints), migrations, the stream, queues and alert topic from the
 * topology, and the local Lambda host. Used by `npm start` and by the tests, so the tests run
 * what users run.
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
import { topology as defaultTopology, type QueueId, type Topology, visibilityProblems } from '#topology.js';
import { ensureAlertTopic, type LocalAlertTopic } from './alert-topic.js';
import { LOOPBACK, leveldownAvailable, startKinesalite, startSqsEmulator } from './embedded/emulators.js';
import { ensureDatabase, postgresDataDir, startEmbeddedPostgres } from './embedded/postgres.js';
import { replayJournal, SqsJournal } from './embedded/sqs-journal.js';
import { freePort } from './free-port.js';
import { PostgresCheckpointStore } from './host/checkpoints.js';
import { LambdaHost, type LambdaHostOptions } from './host/lambda-host.js';
import type { ServiceContext, StackService, StartedService } from './service.js';

export interface Endpoints {
  readonly kinesisEndpoint: string;
  readonly sqsEndpoint: string;
  readonly lambdaEndpoint: string;
  readonly databaseUrl: string;
  readonly streamName: string;
  readonly errorsQueueUrl: string;
  readonly failuresQueueUrl: string;
  /** The alert topic on the SQS emulator's SNS side (runtime/alert-topic.ts); the aggregator publishes to it. */
  readonly alertTopicArn: string;
  /** The queue subscribed to the alert topic, which the local notifier consumes. */
  readonly alertQueueUrl: string;
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
  /** Address every server listens on: loopback unless `npm start --listen-all`. */
  readonly listenHost?: string;
  /** Services started after the core stack, in order (the doors; see service.ts). */
  readonly services?: readonly StackService[];
  readonly host?: Pick<
    LambdaHostOptions,
    'enable' | 'pollIntervalMs' | 'retryDelayMs' | 'functionSources' | 'initTimeoutMs'
  >;
  /** Extra variables for every function (after the stack's own). */
  readonly environment?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

export interface RunningStack {
  readonly endpoints: Endpoints;
  /** The services of `StackOptions.services`, started. */
  readonly services: readonly StartedService[];
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
async function assertPortFree(port: number, what: string, flag: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          `port ${port} for ${what} is already in use (${error.code}); stop what uses it or pass another port with ${flag}`,
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
    throw new StartupError(`cannot connect to DATABASE_URL (${describeUrl(url)}): ${(error as Error).message}`, {
      cause: error,
    });
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

/** The parts started so far, stopped in reverse order by a failed start or by `stop()`. */
class Cleanups {
  private readonly steps: Array<() => Promise<unknown>> = [];
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch(() => undefined);
    this.steps.length = 0;
  }
}

/** What every step of a start sees: the options with their defaults, and the cleanups. */
interface StartContext {
  readonly options: StackOptions;
  readonly topology: Topology;
  readonly region: string;
  readonly listenHost: string;
  readonly logDir: string;
  readonly log: (line: string) => void;
  readonly cleanups: Cleanups;
}

/** Before anything starts: orphans stopped, `--fresh` applied, every fixed port checked free. */
async function prepare({ options, topology, log }: StartContext): Promise<void> {
  // The host, like Lambda, never extends a message's visibility: a topology that lets a batch
  // outlive it would deliver messages twice here and on AWS.
  const unsound = visibilityProblems(topology);
  if (unsound.length > 0) throw new StartupError(`the topology is unsound: ${unsound.join('; ')}`);
  if (!options.databaseUrl) await stopOrphanedPostgres(postgresDataDir(options.stateDir), log);
  if (options.fresh) {
    await rm(path.join(options.stateDir, 'kinesis'), { recursive: true, force: true });
    await rm(sqsJournalFile(options.stateDir), { force: true });
    if (!options.databaseUrl) await rm(postgresDataDir(options.stateDir), { recursive: true, force: true });
  }
  // Ports first, so a taken port is reported before anything starts.
  if (!options.databaseUrl) await assertPortFree(options.ports.postgres, 'PostgreSQL', '--pg-port');
  if (!options.kinesisEndpoint) await assertPortFree(options.ports.kinesis, 'Kinesis (kinesalite)', '--kinesis-port');
  if (!options.sqsEndpoint) await assertPortFree(options.ports.sqs, 'SQS (fauxqs)', '--sqs-port');
  await assertPortFree(options.ports.lambda, 'the Lambda Invoke API', '--lambda-port');
}

/** `DATABASE_URL` checked, or the embedded server started; then the migrations. Returns the URL. */
async function startDatabase(ctx: StartContext): Promise<string> {
  const { options, cleanups, log } = ctx;
  let databaseUrl: string;
  if (options.databaseUrl) {
    await checkDatabase(options.databaseUrl);
    databaseUrl = options.databaseUrl;
  } else {
    const pgLog = path.join(ctx.logDir, 'postgres.log');
    const server = await startEmbeddedPostgres({
      stateDir: options.stateDir,
      // PostgreSQL cannot bind port 0 itself: ask the OS for a free one.
      port: options.ports.postgres === 0 ? await freePort() : options.ports.postgres,
      listenHost: ctx.listenHost,
      persistent: true,
      onLog: (line) => appendFileSync(pgLog, `${line}\n`),
    }).catch((error: Error) => {
      throw new StartupError(error.message, { cause: error });
    });
    cleanups.add(() => server.stop());
    await ensureDatabase(server.adminUrl, EMBEDDED_DATABASE);
    databaseUrl = server.urlFor(EMBEDDED_DATABASE);
  }
  const applied = await migrate({ database: databaseUrl });
  if (applied.length > 0) log(`migrations applied: ${applied.join(', ')}`);
  return databaseUrl;
}

/** The given Kinesis endpoint, or kinesalite started (persisted when asked and leveldown loads). */
async function startKinesis(ctx: StartContext): Promise<string> {
  const { options } = ctx;
  if (options.kinesisEndpoint) return options.kinesisEndpoint;
  const persist = (options.persistKinesis ?? false) && leveldownAvailable();
  const emulator = await startKinesalite({
    port: options.ports.kinesis,
    host: ctx.listenHost,
    dataDir: persist ? path.join(options.stateDir, 'kinesis') : undefined,
  });
  ctx.cleanups.add(() => emulator.stop());
  return emulator.url;
}

/** The given SQS endpoint, or fauxqs started (with its journal when asked). */
async function startSqs(ctx: StartContext): Promise<{ url: string; journal: SqsJournal | undefined }> {
  const { options, cleanups } = ctx;
  if (options.sqsEndpoint) return { url: options.sqsEndpoint, journal: undefined };
  let journal: SqsJournal | undefined;
  if (options.persistSqs) {
    const opened = SqsJournal.open({ file: sqsJournalFile(options.stateDir), log: ctx.log });
    journal = opened;
    // Closed by the emulator's stop; this covers a failure before the emulator is up.
    cleanups.add(async () => opened.close());
  }
  const emulator = await startSqsEmulator({
    port: options.ports.sqs,
    host: ctx.listenHost,
    region: ctx.region,
    journal,
  });
  cleanups.add(() => emulator.stop());
  return { url: emulator.url, journal };
}

/**
 * The stream, the queues and the alert topic (with the notifier's queue) of the topology, and
 * what the last run left queued re-sent.
 */
async function provision(
  ctx: StartContext,
  clients: { kinesis: KinesisClient; sqs: SQSClient },
  endpoints: { kinesis: string; sqs: string },
  journal: SqsJournal | undefined,
): Promise<{ queueUrls: Record<QueueId, string>; alerts: LocalAlertTopic }> {
  const { topology, log } = ctx;
  await ensureStream(clients.kinesis, topology.stream.name, topology.stream.shardCount).catch((error: Error) => {
    throw new StartupError(`cannot create the stream at ${endpoints.kinesis}: ${error.message}`, { cause: error });
  });
  const queueUrls = await ensureQueues(clients.sqs, topology).catch((error: Error) => {
    throw new StartupError(`cannot create the queues at ${endpoints.sqs}: ${error.message}`, { cause: error });
  });
  const alerts = await ensureAlertTopic({
    endpoint: endpoints.sqs,
    region: ctx.region,
    sqs: clients.sqs,
    topology,
  }).catch((error: Error) => {
    throw new StartupError(
      `cannot create the alert topic at ${endpoints.sqs} (the SQS endpoint must also serve SNS, as fauxqs and LocalStack do): ${error.message}`,
      { cause: error },
    );
  });
  // Before the host polls: messages accepted by the last run and not yet drained go back in.
  if (journal && journal.recovered.outstanding > 0) {
    const { replayed, kept } = await replayJournal(journal, clients.sqs, log);
    log(
      `sqs journal: ${replayed} message(s) outstanding at the last stop re-sent to their queues${kept > 0 ? `, ${kept} kept for a later start` : ''}`,
    );
  }
  return { queueUrls, alerts };
}

/** The environment every function gets from the stack (before `StackOptions.environment`). */
function functionEnvironment(
  topology: Topology,
  databaseUrl: string,
  queueUrls: Readonly<Record<QueueId, string>>,
  endpoints: { kinesis: string; sqs: string },
  alertTopicArn: string,
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    STREAM_NAME: topology.stream.name,
    ERRORS_QUEUE_URL: queueUrls.errors,
    KINESIS_ENDPOINT: endpoints.kinesis,
    SQS_ENDPOINT: endpoints.sqs,
    // The aggregator publishes reading alerts here, as on AWS; the emulator serves SNS beside SQS.
    ALERT_TOPIC_ARN: alertTopicArn,
    SNS_ENDPOINT: endpoints.sqs,
    PAYLOAD_CAP_BYTES: String(topology.payloadCapBytes),
    POWERTOOLS_METRICS_NAMESPACE: 'IoTFirst',
  };
}

/** The checkpoint store and the Lambda host with every function, source and schedule. */
async function startHost(
  ctx: StartContext,
  databaseUrl: string,
  clients: { kinesis: KinesisClient; sqs: SQSClient },
  queueUrls: Record<QueueId, string>,
  endpoints: { kinesis: string; sqs: string },
  alertTopicArn: string,
): Promise<LambdaHost> {
  const { options, cleanups } = ctx;
  const checkpoints = await PostgresCheckpointStore.open(databaseUrl);
  cleanups.add(() => checkpoints.close());
  if (options.fresh && options.databaseUrl) await checkpoints.clear();
  const host = await LambdaHost.start({
    topology: ctx.topology,
    projectRoot: options.projectRoot,
    region: ctx.region,
    logDir: ctx.logDir,
    environment: {
      ...functionEnvironment(ctx.topology, databaseUrl, queueUrls, endpoints, alertTopicArn),
      ...options.environment,
    },
    kinesis: clients.kinesis,
    sqs: clients.sqs,
    queueUrls,
    checkpoints,
    lambdaPort: options.ports.lambda,
    listenHost: ctx.listenHost,
    scheduleSpeedUp: options.scheduleSpeedUp ?? 1,
    ...options.host,
    log: ctx.log,
  });
  cleanups.add(() => host.stop());
  return host;
}

/** The extra services (doors), in order, each after the core stack is up. */
async function startServices(
  ctx: StartContext,
  base: Omit<ServiceContext, 'log' | 'listenHost' | 'stateDir' | 'logDir' | 'region' | 'topology'>,
): Promise<StartedService[]> {
  const started: StartedService[] = [];
  for (const service of ctx.options.services ?? []) {
    const running = await service
      .start({
        ...base,
        topology: ctx.topology,
        region: ctx.region,
        stateDir: ctx.options.stateDir,
        logDir: ctx.logDir,
        listenHost: ctx.listenHost,
        log: ctx.log,
        services: () => started,
      })
      .catch((error: Error) => {
        throw new StartupError(`cannot start ${service.name}: ${error.message}`, { cause: error });
      });
    ctx.cleanups.add(() => running.stop());
    started.push(running);
  }
  return started;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const logDir = path.join(options.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const ctx: StartContext = {
    options,
    topology: options.topology ?? defaultTopology,
    region: options.region ?? 'us-east-1',
    listenHost: options.listenHost ?? LOOPBACK,
    logDir,
    log: options.log ?? (() => undefined),
    cleanups: new Cleanups(),
  };
  try {
    await prepare(ctx);
    const databaseUrl = await startDatabase(ctx);
    const kinesisEndpoint = await startKinesis(ctx);
    const { url: sqsEndpoint, journal } = await startSqs(ctx);
    const clients = {
      kinesis: createKinesisClient({ region: ctx.region, endpoint: kinesisEndpoint }),
      sqs: createSqsClient({ region: ctx.region, endpoint: sqsEndpoint }),
    };
    ctx.cleanups.add(async () => {
      clients.kinesis.destroy();
      clients.sqs.destroy();
    });
    const urls = { kinesis: kinesisEndpoint, sqs: sqsEndpoint };
    const { queueUrls, alerts } = await provision(ctx, clients, urls, journal);
    const host = await startHost(ctx, databaseUrl, clients, queueUrls, urls, alerts.topicArn);
    const endpoints: Endpoints = {
      kinesisEndpoint,
      sqsEndpoint,
      lambdaEndpoint: host.lambdaEndpoint,
      databaseUrl,
      streamName: ctx.topology.stream.name,
      errorsQueueUrl: queueUrls.errors,
      failuresQueueUrl: queueUrls.failures,
      alertTopicArn: alerts.topicArn,
      alertQueueUrl: alerts.queueUrl,
      region: ctx.region,
    };
    const services = await startServices(ctx, { endpoints, host, ...clients });
    return {
      endpoints,
      services,
      host,
      topology: ctx.topology,
      ...clients,
      stop: () => ctx.cleanups.run(),
    };
  } catch (error) {
    await ctx.cleanups.run();
    if (error instanceof StartupError) throw error;
    throw new StartupError((error as Error).message, { cause: error });
  }
}

/**
 * The `READY` line's and `endpoints.json`'s document: the core endpoints and every service's
 * entries (a service's entries never replace a core one).
 */
export function readyDocument(stack: Pick<RunningStack, 'endpoints' | 'services'>): Record<string, string> {
  return Object.assign({}, ...stack.services.map((s) => s.endpoints), stack.endpoints);
}
