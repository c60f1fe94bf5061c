/**
 * End-to-end rehearsal of the deployed artifacts on the embedded stack (issue 13, item 3): the
 * local Lambda host runs every function of a synthesized `localstack` template from its built
 * asset in the cloud assembly, with the template's handler string, runtime, memory, timeout and
 * environment, and the stream, queues (with their redrive policies), event source mappings and
 * schedules the template declares (template-to-host.ts). References resolve to the embedded
 * stack's endpoints and names; database credentials come from the template's secrets, served by
 * a Secrets Manager stand-in, with the login users the migrations custom resource creates.
 *
 * Then the scenario runs through those functions only: the migrations custom resource's handler
 * gets CloudFormation's Create and Update events, the producer is invoked, the Kafka bridge gets
 * a Kafka-shaped batch, the validator and the drainer land rows and errors (counted against what
 * the producer reports), the aggregator's schedule computes the windows, the data-quality
 * schedule stores a run, and the custom resource's Delete leaves the data.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pg from 'pg';
import { createSqsClient } from '#adapters/aws/clients.js';
import { PostgresTokenStore } from '#adapters/postgres/token-store.js';
import { simulate } from '#domain/fleet.js';
import { createToken } from '#pipeline/api-tokens.js';
import { ensureAlertTopic } from '#runtime/alert-topic.js';
import { LOOPBACK, startKinesalite, startSqsEmulator } from '#runtime/embedded/emulators.js';
import { ensureDatabase, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { freePort } from '#runtime/free-port.js';
import { FunctionRuntime } from '#runtime/host/function-runtime.js';
import { selfManagedKafkaEvent } from '#runtime/host/kafka-events.js';
import type { FunctionSource } from '#runtime/host/lambda-host.js';
import type { InvocationOutcome } from '#runtime/host/protocol.js';
import { removeStateDir } from '#runtime/remove-state-dir.js';
import { ensureQueues, type RunningStack, startStack } from '#runtime/stack.js';
import type { FunctionId } from '#topology.js';
import type { CfnTemplate } from '../checks/template.js';
import { LOCALSTACK } from '../localstack.js';
import { handlerFile } from './cold-start.js';
import { rehearsalEnvironment, type StackSide, stackReferences } from './environment.js';
import { startH2cBridge } from './h2c-bridge.js';
import { resolveTree } from './intrinsics.js';
import { type SecretsStandIn, secretsOfTemplate, startSecretsStandIn } from './secrets-stand-in.js';
import {
  type HostPlan,
  type TemplateCustomResource,
  type TemplateFunction,
  templateToHost,
} from './template-to-host.js';

const REGION = 'us-east-1';

export interface RehearsalOptions {
  readonly template: CfnTemplate;
  /** The cloud assembly the template was synthesized into (its `asset.*` folders). */
  readonly outdir: string;
  readonly projectRoot: string;
  /** The producer's event (`count`, `sensors`, `seed`). */
  readonly produce?: { readonly count: number; readonly sensors: number; readonly seed: number };
  /** Records in the Kafka-shaped batch given to the bridge. */
  readonly kafkaRecords?: number;
  /** Longest wait for any one condition (rows landed, windows, a dq run). */
  readonly waitMs?: number;
  /** Divides the template's schedule periods (default 30: 1 minute becomes 2 s). */
  readonly scheduleSpeedUp?: number;
  readonly log?: (line: string) => void;
}

export interface RehearsalReport {
  readonly functionsFromAssets: number;
  readonly eventSources: number;
  readonly schedules: number;
  readonly migrations: { readonly applied: number; readonly users: number; readonly updateApplied: number };
  readonly produced: number;
  readonly expected: { readonly readings: number; readonly errors: number };
  readonly landed: { readonly readings: number; readonly errors: number };
  readonly kafka: { readonly sent: number; readonly readings: number };
  readonly windows: number;
  /** Reading-alert events the aggregator recorded, and the messages its publish put on the template's topic. */
  readonly alerts: { readonly events: number; readonly messages: number };
  readonly dq: { readonly passed: number; readonly checks: number; readonly failed: number; readonly errored: number };
  readonly deleteKeptRows: boolean;
  /** /api/health's status with and without a token, when the template has the api function. */
  readonly api: { readonly withToken: number; readonly withoutToken: number } | undefined;
  /** Findings that do not fail the rehearsal but deserve a look (source migrations the bundle lacked, ...). */
  readonly findings: readonly string[];
  /** AWS calls a bundle made to a service the rehearsal has no emulator for (refused; CloudWatch, say). */
  readonly refusedCalls: readonly string[];
  readonly notRehearsed: readonly string[];
  readonly seconds: number;
}

/** A rehearsal that found the artifacts do not work; the message says where and why. */
export class RehearsalError extends Error {
  override readonly name = 'RehearsalError';
}

/** The parts started so far, stopped in reverse order. */
class Parts {
  private readonly stops: Array<() => Promise<unknown>> = [];
  add(stop: () => Promise<unknown>): void {
    this.stops.push(stop);
  }
  async stop(): Promise<void> {
    for (const s of this.stops.reverse()) await s().catch(() => undefined);
  }
}

interface Infrastructure {
  readonly adminUrl: string;
  readonly pgPort: number;
  readonly kinesis: string;
  readonly kinesisH2: string;
  readonly sqs: string;
}

/** PostgreSQL, kinesalite (with its HTTP/2 front) and fauxqs, each on a port the OS chose. */
async function startInfrastructure(stateDir: string, parts: Parts): Promise<Infrastructure> {
  const pgPort = await freePort();
  const server = await startEmbeddedPostgres({ stateDir, port: pgPort, persistent: false });
  parts.add(() => server.stop());
  const kinesalite = await startKinesalite({ port: 0, host: LOOPBACK });
  parts.add(() => kinesalite.stop());
  const bridge = await startH2cBridge(kinesalite.url);
  parts.add(() => bridge.stop());
  const sqs = await startSqsEmulator({ port: 0, host: LOOPBACK, region: REGION });
  parts.add(() => sqs.stop());
  return { adminUrl: server.adminUrl, pgPort, kinesis: kinesalite.url, kinesisH2: bridge.url, sqs: sqs.url };
}

/**
 * The compose file's PostgreSQL service (`postgres:5432`) is the embedded server here: the
 * secrets name the service, the rehearsal plays the Docker network's name resolution.
 */
function networkRewrite(infra: Infrastructure) {
  return (value: Record<string, unknown>): Record<string, unknown> =>
    value.host === LOCALSTACK.postgresService ? { ...value, host: '127.0.0.1', port: infra.pgPort } : value;
}

/** A function of the template run in a container of its own, outside the host (the custom resource's handler). */
function standaloneRuntime(fn: TemplateFunction, env: Record<string, string>, logDir: string): FunctionRuntime {
  const file = fn.assetDir ? handlerFile(fn.assetDir, fn.handler) : undefined;
  if (!fn.assetDir || !file)
    throw new RehearsalError(`${fn.functionName}: handler ${fn.handler} is not a file of its asset`);
  return new FunctionRuntime({
    functionName: fn.functionName,
    handlerPath: file.file,
    handlerExport: file.exportName,
    bundled: true,
    memoryMb: fn.memoryMb,
    timeoutSeconds: fn.timeoutSeconds,
    environment: { ...env, AWS_REGION: REGION, AWS_ACCESS_KEY_ID: 'rehearsal', AWS_SECRET_ACCESS_KEY: 'rehearsal' },
    region: REGION,
    logFile: path.join(logDir, `${fn.functionName}.log`),
    cwd: fn.assetDir,
  });
}

function payloadOf<T>(what: string, outcome: InvocationOutcome): T {
  if (!outcome.ok)
    throw new RehearsalError(`${what} failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  return outcome.payload as T;
}

interface CustomResourceRun {
  readonly resource: TemplateCustomResource;
  readonly runtime: FunctionRuntime;
  readonly properties: unknown;
  physicalId: string;
}

/** A CloudFormation custom resource request as the CDK provider framework forwards it. */
function cfnEvent(run: CustomResourceRun, type: 'Create' | 'Update' | 'Delete'): Record<string, unknown> {
  return {
    RequestType: type,
    ServiceToken: (run.properties as { ServiceToken?: string }).ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/rehearsal',
    StackId: `arn:aws:cloudformation:${REGION}:000000000000:stack/IotFirst/${randomUUID()}`,
    RequestId: randomUUID(),
    LogicalResourceId: run.resource.logicalId,
    ResourceType: run.resource.type,
    ResourceProperties: run.properties,
    ...(type === 'Create' ? {} : { PhysicalResourceId: run.physicalId }),
    ...(type === 'Update' ? { OldResourceProperties: run.properties } : {}),
  };
}

interface MigrationData {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly Applied: string; readonly Users: string };
}

const listed = (s: string): number => (s ? s.split(',').length : 0);

/** Create (migrates and creates the login users), then Update (idempotent): the deploy's first steps. */
async function createCustomResources(
  template: CfnTemplate,
  plan: HostPlan,
  side: StackSide,
  logDir: string,
  parts: Parts,
): Promise<{ runs: CustomResourceRun[]; migrations: RehearsalReport['migrations'] }> {
  const runs: CustomResourceRun[] = [];
  let migrations = { applied: 0, users: 0, updateApplied: 0 };
  for (const resource of plan.customResources) {
    const fn = plan.functions.find((f) => f.logicalId === resource.handlerLogicalId);
    if (!fn)
      throw new RehearsalError(
        `${resource.logicalId}: its handler ${resource.handlerLogicalId} is not in the template`,
      );
    const runtime = standaloneRuntime(fn, rehearsalEnvironment(template, fn, side), logDir);
    // Stopped by the caller even when an event below fails: a live container keeps Node running.
    parts.add(() => runtime.stop());
    const properties = resolveTree(resource.properties, stackReferences(template, side, resource.logicalId));
    const run: CustomResourceRun = { resource, runtime, properties, physicalId: '' };
    runs.push(run);
    const created = payloadOf<MigrationData>(
      `${resource.logicalId} Create`,
      await runtime.invoke(cfnEvent(run, 'Create')),
    );
    run.physicalId = created.PhysicalResourceId;
    const updated = payloadOf<MigrationData>(
      `${resource.logicalId} Update`,
      await runtime.invoke(cfnEvent(run, 'Update')),
    );
    if (updated.PhysicalResourceId !== run.physicalId)
      throw new RehearsalError(
        `${resource.logicalId}: Update changed the physical id (CloudFormation would replace it)`,
      );
    migrations = {
      applied: listed(created.Data.Applied),
      users: listed(created.Data.Users),
      updateApplied: listed(updated.Data.Applied),
    };
  }
  return { runs, migrations };
}

/** Each topology function's asset, handler and resolved environment, for the host. */
function functionSources(
  template: CfnTemplate,
  plan: HostPlan,
  side: StackSide,
): Partial<Record<FunctionId, FunctionSource>> {
  const out: Partial<Record<FunctionId, FunctionSource>> = {};
  for (const fn of plan.functions) {
    if (!fn.id) continue;
    const file = fn.assetDir ? handlerFile(fn.assetDir, fn.handler) : undefined;
    if (!fn.assetDir || !file)
      throw new RehearsalError(
        `${fn.functionName}: handler ${fn.handler} is not a file of its asset (${fn.assetDir ?? 'no asset'})`,
      );
    out[fn.id] = {
      handlerPath: file.file,
      handlerExport: file.exportName,
      cwd: fn.assetDir,
      environment: rehearsalEnvironment(template, fn, side),
      runtime: fn.runtime,
      handler: fn.handler,
    };
  }
  return out;
}

/**
 * Every host function's container started: an import or configuration error fails here, named.
 * One at a time, so a loaded machine does not push a healthy init past the host's init timeout.
 */
async function warmAll(stack: RunningStack): Promise<void> {
  const failed: string[] = [];
  for (const f of stack.host.functions.values()) await f.warm().catch((error: Error) => failed.push(error.message));
  if (failed.length > 0) throw new RehearsalError(`functions failed to start from their assets: ${failed.join(' | ')}`);
}

async function waitFor<T>(
  what: string,
  waitMs: number,
  probe: () => Promise<{ done: boolean; value: T; detail: string }>,
  diagnose: () => string,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  let last = { done: false, detail: 'not probed' } as { done: boolean; value?: T; detail: string };
  while (Date.now() < deadline) {
    last = await probe();
    if (last.done) return last.value as T;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new RehearsalError(`${what}: not reached within ${waitMs / 1000} s (last: ${last.detail}); ${diagnose()}`);
}

/** Function errors seen by the host and the last error lines of their logs, for a failed wait. */
function hostDiagnosis(stack: RunningStack, logDir: string): string {
  const parts: string[] = [];
  for (const [id, stats] of Object.entries(stack.host.status().functions)) {
    if (stats.errors === 0) continue;
    const fn = stack.topology.functions[id as FunctionId];
    let lastError = '';
    try {
      const lines = readFileSync(path.join(logDir, `${fn.name}.log`), 'utf8').split('\n');
      lastError =
        lines
          .filter((l) => /"level":"ERROR"|errorMessage/.test(l))
          .slice(-1)[0]
          ?.slice(0, 400) ?? '';
    } catch {
      // no log yet
    }
    parts.push(`${fn.name}: ${stats.errors} error(s) in ${stats.invocations} invocation(s) ${lastError}`);
  }
  return parts.length > 0 ? parts.join(' | ') : 'no function reported an error';
}

async function count(db: pg.Pool, sql: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql);
  return Number(rows[0]?.n ?? 0);
}

interface ProducerResult {
  readonly sent: number;
  readonly failed: number;
  readonly expected: Record<string, number>;
}

/** A batch of valid readings as a self-managed Kafka event source delivers it. */
function kafkaBatch(records: number, seed: number) {
  const simulation = simulate({
    count: records,
    sensors: Math.min(records, 10),
    seed,
    startTime: new Date(Date.now() - 60_000),
    intervalMs: 2_000,
    rates: { INACTIVE_SENSOR: 0, BELOW_MIN: 0, ABOVE_MAX: 0, NULL_VALUE: 0, JSON_PARSE_ERROR: 0, SCHEMA_ERROR: 0 },
  });
  return selfManagedKafkaEvent(
    simulation.records.map((r, i) => ({
      topic: 'iot_sensor_data',
      partition: 0,
      offset: String(i),
      timestamp: Date.now(),
      key: Buffer.from(r.partitionKey),
      value: Buffer.from(r.data),
      headers: {},
    })),
    { bootstrapServers: ['127.0.0.1:9092'] },
  );
}

interface Scenario {
  readonly stack: RunningStack;
  readonly db: pg.Pool;
  readonly logDir: string;
  readonly waitMs: number;
}

/** Producer and Kafka bridge invoked; waits until every expected reading and error is a row. */
async function ingest(s: Scenario, options: RehearsalOptions) {
  const produce = options.produce ?? { count: 1000, sensors: 50, seed: 20_261_130 };
  const producer = payloadOf<ProducerResult>('the producer', await s.stack.host.invoke('producer', produce));
  if (producer.failed > 0) throw new RehearsalError(`the producer could not send ${producer.failed} record(s)`);
  const kafkaSent = options.kafkaRecords ?? 20;
  const bridged = payloadOf<{ batchItemFailures: unknown[] }>(
    'the Kafka bridge',
    await s.stack.host.invoke('kafkaBridge', kafkaBatch(kafkaSent, produce.seed + 1)),
  );
  if (bridged.batchItemFailures.length > 0)
    throw new RehearsalError(`the Kafka bridge could not forward ${bridged.batchItemFailures.length} record(s)`);
  const readings = (producer.expected.valid ?? 0) + kafkaSent;
  const errors = Object.entries(producer.expected).reduce((sum, [k, n]) => (k === 'valid' ? sum : sum + n), 0);
  const landed = await waitFor(
    `${readings} readings and ${errors} errors in PostgreSQL`,
    s.waitMs,
    async () => {
      const r = await count(s.db, 'SELECT count(*) AS n FROM sensor_readings');
      const e = await count(s.db, 'SELECT count(*) AS n FROM sensor_errors');
      if (r > readings || e > errors)
        throw new RehearsalError(
          `more rows than produced: ${r} readings (expected ${readings}), ${e} errors (expected ${errors})`,
        );
      return {
        done: r === readings && e === errors,
        value: { readings: r, errors: e },
        detail: `${r} readings, ${e} errors`,
      };
    },
    () => hostDiagnosis(s.stack, s.logDir),
  );
  const kafkaRows = await count(s.db, "SELECT count(*) AS n FROM sensor_readings WHERE partition_key LIKE 'kafka:%'");
  return {
    produced: producer.sent,
    expected: { readings, errors },
    landed,
    kafka: { sent: kafkaSent, readings: kafkaRows },
  };
}

/** The aggregator's schedule covers every (sensor, minute) with readings; then a dq run after that. */
async function aggregateAndCheck(s: Scenario) {
  const expectedWindows = await count(
    s.db,
    "SELECT count(*) AS n FROM (SELECT DISTINCT sensor_id, date_trunc('minute', event_time) FROM sensor_readings) w",
  );
  const windows = await waitFor(
    `${expectedWindows} windows computed by the aggregator's schedule`,
    s.waitMs,
    async () => {
      const n = await count(s.db, 'SELECT count(*) AS n FROM sensor_aggregations');
      return { done: n === expectedWindows, value: n, detail: `${n} windows` };
    },
    () => hostDiagnosis(s.stack, s.logDir),
  );
  const after = new Date();
  const dq = await waitFor(
    'a data-quality run started by its schedule after the windows were complete',
    s.waitMs,
    async () => {
      const run = s.stack.host.status().lastScheduleRuns.dq;
      if (!run || run.at < after) return { done: false, value: undefined, detail: 'no run since' };
      const summary = payloadOf<{ runId: string; passed: number; failed: number; errored: number; checks: number }>(
        'the dq schedule',
        run.outcome,
      );
      return { done: true, value: summary, detail: 'done' };
    },
    () => hostDiagnosis(s.stack, s.logDir),
  );
  const stored = await s.db.query<{ n: string }>('SELECT count(*) AS n FROM dq_check_results WHERE run_id = $1', [
    dq?.runId,
  ]);
  if (Number(stored.rows[0]?.n) !== dq?.checks)
    throw new RehearsalError(`the dq run ${dq?.runId} reported ${dq?.checks} checks but stored ${stored.rows[0]?.n}`);
  return { windows, dq: { passed: dq.passed, checks: dq.checks, failed: dq.failed, errored: dq.errored } };
}

/** Every message now on the queue, deleted as read. */
async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<number> {
  let n = 0;
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return n;
    n += messages.length;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

/**
 * The aggregator (bundled, with the template's ALERT_TOPIC_ARN) publishes every reading-alert event
 * it recorded to the template's topic: none left unpublished, one message per event on the queue
 * subscribed to it.
 */
async function checkAlertsPublished(s: Scenario, alertQueueUrl: string): Promise<RehearsalReport['alerts']> {
  const unpublished =
    'SELECT count(*) AS n FROM alerts WHERE opened_published_at IS NULL OR (closed_at IS NOT NULL AND closed_published_at IS NULL)';
  await waitFor(
    'every reading-alert event published by the aggregator',
    s.waitMs,
    async () => {
      const n = await count(s.db, unpublished);
      return { done: n === 0, value: n, detail: `${n} unpublished` };
    },
    () => hostDiagnosis(s.stack, s.logDir),
  );
  const events = await count(s.db, 'SELECT count(*) + count(closed_at) AS n FROM alerts');
  const sqs = s.stack.sqs;
  let messages = 0;
  for (let i = 0; i < 20 && messages < events; i++) messages += await drainQueue(sqs, alertQueueUrl);
  if (messages !== events)
    throw new RehearsalError(`the aggregator recorded ${events} alert events but ${messages} reached the alert topic`);
  return { events, messages };
}

/** An API Gateway REST API proxy event (v1), as the stage's `{proxy+}` method sends it. */
function apiGatewayEvent(pathName: string, token: string | undefined): Record<string, unknown> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  return {
    resource: '/{proxy+}',
    path: pathName,
    httpMethod: 'GET',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: pathName.slice(1) },
    stageVariables: null,
    requestContext: {
      resourcePath: '/{proxy+}',
      httpMethod: 'GET',
      path: `/v1${pathName}`,
      stage: 'v1',
      requestId: randomUUID(),
      identity: { sourceIp: '127.0.0.1' },
    },
    body: null,
    isBase64Encoded: false,
  };
}

/**
 * The api function (behind API Gateway, which the embedded stack lacks) invoked with proxy
 * events: /api/health must answer 200 with a token created in the database, 401 without.
 */
async function askApi(s: Scenario): Promise<RehearsalReport['api']> {
  const functions = s.stack.host.functions as ReadonlyMap<string, unknown>;
  if (!functions.has('api')) return undefined;
  const { token } = await createToken(new PostgresTokenStore(s.db), {
    name: `rehearsal-${randomUUID()}`,
    scope: 'read',
  });
  const status = async (t: string | undefined): Promise<number> =>
    payloadOf<{ statusCode: number }>(
      'the api function',
      await s.stack.host.invoke('api', apiGatewayEvent('/api/health', t)),
    ).statusCode;
  const api = { withToken: await status(token), withoutToken: await status(undefined) };
  if (api.withToken !== 200 || api.withoutToken !== 401)
    throw new RehearsalError(
      `the api function answered /api/health ${api.withToken} with a token, ${api.withoutToken} without (expected 200, 401)`,
    );
  return api;
}

/** Delete, as `cdk destroy` sends it: the rows must all still be there afterwards. */
async function deleteCustomResources(runs: readonly CustomResourceRun[], db: pg.Pool): Promise<boolean> {
  const tables = ['sensor_readings', 'sensor_errors', 'sensor_aggregations', 'dq_check_results'];
  const before = await Promise.all(tables.map((t) => count(db, `SELECT count(*) AS n FROM ${t}`)));
  for (const run of runs) {
    const deleted = payloadOf<MigrationData>(
      `${run.resource.logicalId} Delete`,
      await run.runtime.invoke(cfnEvent(run, 'Delete')),
    );
    if (deleted.PhysicalResourceId !== run.physicalId)
      throw new RehearsalError(`${run.resource.logicalId}: Delete answered another physical id`);
  }
  const after = await Promise.all(tables.map((t) => count(db, `SELECT count(*) AS n FROM ${t}`)));
  const lost = tables.filter((_, i) => after[i] !== before[i]);
  if (lost.length > 0) throw new RehearsalError(`the custom resource's Delete changed ${lost.join(', ')}`);
  return true;
}

/** What the template has that the embedded stack cannot run, each with the reason. */
function notRehearsed(template: CfnTemplate, plan: HostPlan): string[] {
  const types = new Set(Object.values(template.Resources).map((r) => r.Type));
  const out: string[] = [];
  if (types.has('AWS::ApiGateway::RestApi'))
    out.push('API Gateway (none here; the api function got proxy events directly)');
  if (!plan.functions.some((f) => f.functionName.endsWith('-iot-api')))
    out.push('the api function (not in this template)');
  if (types.has('AWS::IoT::TopicRule'))
    out.push('IoT topic rule (no IoT Core here; runtime/mqtt is the source-level twin)');
  if (plan.functions.some((f) => f.id === 'kafkaBridge'))
    out.push('Kafka event source mapping (no broker; the bridge got a Kafka-shaped event instead)');
  const provider = plan.functions.filter(
    (f) => !f.id && !plan.customResources.some((c) => c.handlerLogicalId === f.logicalId),
  );
  if (provider.length > 0)
    out.push(
      `${provider.map((f) => f.logicalId).join(', ')} (CDK's provider framework: its handler got the events directly)`,
    );
  if (types.has('AWS::CloudWatch::Alarm')) out.push('alarms and dashboard (no CloudWatch)');
  return out;
}

/** Every queue's URL by name, its dead-letter queue's too (the api function reads their depth). */
async function queueUrlsByName(sqs: SQSClient, plan: HostPlan): Promise<Record<string, string>> {
  const names = Object.values(plan.topology.queues).flatMap((q) => [q.name, q.deadLetterQueueName]);
  const out: Record<string, string> = {};
  for (const name of names) {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (QueueUrl) out[name] = QueueUrl;
  }
  return out;
}

/** The side of the stack the functions see: database, secrets, queues, endpoints. */
interface Prepared {
  readonly side: StackSide;
  /** The queue subscribed to the template's alert topic. */
  readonly alertQueueUrl: string;
  readonly databaseUrl: string;
  readonly infra: Infrastructure;
  readonly standIn: SecretsStandIn;
}

/** The template's alert topic name (the topic the aggregator's ALERT_TOPIC_ARN names). */
function alertTopicName(template: CfnTemplate): string {
  const topics = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SNS::Topic');
  const name = topics[0]?.Properties?.TopicName;
  if (topics.length !== 1 || typeof name !== 'string')
    throw new RehearsalError(`the template must have one SNS topic with a TopicName (found ${topics.length})`);
  return name;
}

/** Emulators, the template's secrets (served by the stand-in), its database and its queues. */
async function prepare(options: RehearsalOptions, plan: HostPlan, stateDir: string, parts: Parts): Promise<Prepared> {
  const infra = await startInfrastructure(stateDir, parts);
  const parameters = { DbAdminPassword: decodeURIComponent(new URL(infra.adminUrl).password) };
  const secrets = secretsOfTemplate(options.template, parameters, networkRewrite(infra));
  const databaseName = String(secrets.find((s) => s.value.dbname)?.value.dbname ?? LOCALSTACK.databaseName);
  await ensureDatabase(infra.adminUrl, databaseName);
  const standIn = await startSecretsStandIn(secrets);
  parts.add(() => standIn.stop());
  const sqs = createSqsClient({ region: REGION, endpoint: infra.sqs });
  parts.add(async () => sqs.destroy());
  await ensureQueues(sqs, plan.topology);
  const alerts = await ensureAlertTopic({
    endpoint: infra.sqs,
    region: REGION,
    sqs,
    topology: { alertTopic: { ...plan.topology.alertTopic, name: alertTopicName(options.template) } },
    queueName: 'rehearsal-alert-subscriber',
  });
  const side: StackSide = {
    region: REGION,
    streamName: plan.topology.stream.name,
    queueUrls: await queueUrlsByName(sqs, plan),
    secretArn: (id) => standIn.arnOf(id),
    parameters,
    endpoints: { kinesis: infra.kinesisH2, sqs: infra.sqs, secretsManager: standIn.url },
  };
  return {
    side,
    alertQueueUrl: alerts.queueUrl,
    databaseUrl: infra.adminUrl.replace(/\/postgres$/, `/${databaseName}`),
    infra,
    standIn,
  };
}

/** The embedded stack with the template's topology, every function from its asset, all warm. */
async function startRehearsalStack(
  options: RehearsalOptions,
  plan: HostPlan,
  prepared: Prepared,
  stateDir: string,
  findings: string[],
): Promise<RunningStack> {
  const log = options.log ?? (() => undefined);
  const stack = await startStack({
    projectRoot: options.projectRoot,
    stateDir,
    topology: plan.topology,
    databaseUrl: prepared.databaseUrl,
    kinesisEndpoint: prepared.infra.kinesis,
    sqsEndpoint: prepared.infra.sqs,
    ports: { postgres: 0, kinesis: 0, sqs: 0, lambda: 0 },
    scheduleSpeedUp: options.scheduleSpeedUp ?? 30,
    host: { functionSources: functionSources(options.template, plan, prepared.side), pollIntervalMs: 100 },
    log: (line) => {
      // The stack migrates from source after the bundle did: anything left means the bundle lacks it.
      if (line.startsWith('migrations applied')) findings.push(`the bundled migrations missed: ${line}`);
      log(line);
    },
  });
  try {
    await warmAll(stack);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  log(`${stack.host.functions.size} functions warm from their assets`);
  return stack;
}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  const started = Date.now();
  const plan = templateToHost(options.template, options.outdir);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'iot-first-rehearsal-'));
  const logDir = path.join(stateDir, 'logs');
  const parts = new Parts();
  // Last to run: the state folder and, as root, the server's data folder outside it.
  parts.add(() => removeStateDir(stateDir));
  const log = options.log ?? (() => undefined);
  try {
    const prepared = await prepare(options, plan, stateDir, parts);
    const { runs, migrations } = await createCustomResources(options.template, plan, prepared.side, logDir, parts);
    log(`custom resources created: ${migrations.applied} migrations, ${migrations.users} users`);
    const findings: string[] = [];
    const stack = await startRehearsalStack(options, plan, prepared, stateDir, findings);
    parts.add(() => stack.stop());
    const db = new pg.Pool({ connectionString: prepared.databaseUrl, max: 2 });
    parts.add(() => db.end());
    const scenario: Scenario = { stack, db, logDir, waitMs: options.waitMs ?? 120_000 };
    const ingested = await ingest(scenario, options);
    log(`${ingested.landed.readings} readings and ${ingested.landed.errors} errors landed`);
    const checked = await aggregateAndCheck(scenario);
    const alerts = await checkAlertsPublished(scenario, prepared.alertQueueUrl);
    const api = await askApi(scenario);
    const deleteKeptRows = await deleteCustomResources(runs, db);
    return {
      functionsFromAssets: stack.host.functions.size,
      eventSources: plan.counts.kinesisSources + plan.counts.sqsSources,
      schedules: plan.counts.schedules,
      migrations,
      ...ingested,
      ...checked,
      alerts,
      deleteKeptRows,
      api,
      findings,
      refusedCalls: [...new Set(prepared.standIn.unsupported)],
      notRehearsed: notRehearsed(options.template, plan),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await parts.stop();
  }
}

/** The one line `npm run rehearse` prints. */
export function summaryLine(r: RehearsalReport): string {
  return (
    `rehearsal: ${r.functionsFromAssets} functions from cdk.out, ${r.eventSources} event sources, ${r.schedules} schedules; ` +
    `migrations ${r.migrations.applied} applied + ${r.migrations.users} users (update ${r.migrations.updateApplied}, delete kept rows); ` +
    `${r.produced} produced -> ${r.landed.readings - r.kafka.readings} readings + ${r.landed.errors} errors, ` +
    `${r.kafka.sent} via kafka bridge -> ${r.kafka.readings}; ${r.windows} windows; ` +
    `${r.alerts.events} alert events -> ${r.alerts.messages} messages on the alert topic; ` +
    `dq ${r.dq.passed}/${r.dq.checks} checks passed; ` +
    (r.api ? `api /api/health ${r.api.withToken} with token, ${r.api.withoutToken} without; ` : '') +
    (r.refusedCalls.length > 0 ? `refused calls: ${r.refusedCalls.join(', ')}; ` : '') +
    `ok in ${Math.round(r.seconds)} s; ` +
    `not rehearsed: ${r.notRehearsed.join('; ')}`
  );
}
