/**
 * The local Lambda host: every function of the topology, its event source mappings, its
 * schedules and the Invoke API, all read from the one topology definition (src/topology.ts),
 * so the semantics match what the CDK stack configures on AWS.
 */

import path from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionId, FunctionSpec, QueueId, Topology } from '#topology.js';
import type { CheckpointStore } from './checkpoints.js';
import type { EventSource, EventSourceContext, EventSourceKind, ShardStatus } from './event-source.js';
import { FunctionRuntime } from './function-runtime.js';
import {
  type FunctionConfiguration,
  type InvokeServer,
  type InvokeTarget,
  startInvokeServer,
} from './invoke-server.js';
import { kinesisSources } from './kinesis-source.js';
import type { InvocationOutcome } from './protocol.js';
import { type ScheduleRun, Scheduler } from './scheduler.js';
import { sqsSources } from './sqs-source.js';

/**
 * The event source kinds the host runs, in start order. A new kind (Kafka, say) is a module
 * exporting an `EventSourceKind` (event-source.ts) and one entry here.
 */
const EVENT_SOURCE_KINDS: readonly EventSourceKind[] = [kinesisSources, sqsSources];

/**
 * A function run from a built asset instead of its topology entry (the rehearsal of cdk.out,
 * infra/rehearsal): the template's handler file and export, its task root and its whole
 * environment.
 */
export interface FunctionSource {
  /** Absolute path of the asset's handler file (`index.mjs` for `index.handler`). */
  readonly handlerPath: string;
  readonly handlerExport: string;
  /** The asset folder: the containers' working directory, Lambda's task root. */
  readonly cwd: string;
  /** The function's own variables; they replace `LambdaHostOptions.environment` for it. */
  readonly environment: Readonly<Record<string, string>>;
  /** The template's `Runtime` and `Handler`, reported by GetFunction. */
  readonly runtime: string;
  readonly handler: string;
}

export interface LambdaHostOptions {
  readonly topology: Topology;
  /** Handler entries in the topology are relative to this folder (the project root). */
  readonly projectRoot: string;
  readonly region: string;
  /** Function logs go to `<logDir>/<function name>.log`. */
  readonly logDir: string;
  /** Environment every function receives (DATABASE_URL, endpoints, queue URLs, …). */
  readonly environment: Readonly<Record<string, string>>;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly queueUrls: Readonly<Record<QueueId, string>>;
  readonly checkpoints: CheckpointStore;
  /** Port of the Lambda API; 0 asks the OS. */
  readonly lambdaPort: number;
  /** Address the Lambda API listens on (loopback unless `npm start --listen-all`). */
  readonly listenHost?: string;
  /** Divides schedule periods (demos); 1 is real time. */
  readonly scheduleSpeedUp?: number;
  /**
   * Which parts to run, by event source kind (`kinesis`, `sqs`, …) or `schedules`; all by
   * default. Tests switch parts off to look at one at a time.
   */
  readonly enable?: Readonly<Record<string, boolean | undefined>>;
  readonly pollIntervalMs?: number;
  readonly retryDelayMs?: (attempt: number) => number;
  /** Time a container may take to start (function-runtime.ts's default otherwise); tests shorten it. */
  readonly initTimeoutMs?: number;
  readonly log?: (message: string) => void;
  /** Functions run from built assets rather than their topology entries (see {@link FunctionSource}). */
  readonly functionSources?: Readonly<Partial<Record<FunctionId, FunctionSource>>>;
}

export interface HostStatus {
  readonly shards: ShardStatus[];
  /** Counters of the event sources, summed per kind (`kinesis`, `sqs`, …). */
  readonly sources: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly functions: Record<string, FunctionRuntime['stats'] & { containers: number }>;
  readonly lastScheduleRuns: Record<string, ScheduleRun>;
}

/** The environment Lambda itself sets for a function, on top of the function's own variables. */
function lambdaEnvironment(functionName: string, memoryMb: number, region: string): Record<string, string> {
  return {
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${process.pid}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    TZ: 'UTC',
    POWERTOOLS_SERVICE_NAME: functionName,
    ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
  };
}

/** A function's configuration as the Lambda API reports it (GetFunction, ListFunctions). */
function functionConfiguration(
  spec: FunctionSpec,
  functionArn: string,
  environment: Readonly<Record<string, string>>,
): FunctionConfiguration {
  return {
    FunctionName: spec.name,
    FunctionArn: functionArn,
    Runtime: 'nodejs24.x',
    Handler: 'index.handler',
    Description: spec.description,
    Timeout: spec.timeoutSeconds,
    MemorySize: spec.memoryMb,
    Version: '$LATEST',
    PackageType: 'Zip',
    Architectures: ['arm64'],
    State: 'Active',
    LastUpdateStatus: 'Successful',
    Environment: { Variables: environment },
  };
}

export class LambdaHost {
  readonly functions = new Map<FunctionId, FunctionRuntime>();
  private readonly byName = new Map<string, InvokeTarget & { runtime: FunctionRuntime }>();
  private readonly targets: InvokeTarget[] = [];
  private readonly sources: EventSource[] = [];
  private scheduler: Scheduler | undefined;
  private server: InvokeServer | undefined;

  private constructor(private readonly options: LambdaHostOptions) {
    const { topology } = options;
    for (const [id, spec] of Object.entries(topology.functions) as [FunctionId, FunctionSpec][]) {
      const logFile = path.join(options.logDir, `${spec.name}.log`);
      const source = options.functionSources?.[id];
      const environment = source?.environment ?? options.environment;
      const runtime = new FunctionRuntime({
        functionName: spec.name,
        handlerPath: source?.handlerPath ?? path.resolve(options.projectRoot, spec.entry),
        memoryMb: spec.memoryMb,
        timeoutSeconds: spec.timeoutSeconds,
        environment: { ...lambdaEnvironment(spec.name, spec.memoryMb, options.region), ...environment },
        region: options.region,
        logFile,
        cwd: source?.cwd ?? options.projectRoot,
        ...(source ? { handlerExport: source.handlerExport, bundled: true } : {}),
        ...(options.initTimeoutMs !== undefined ? { initTimeoutMs: options.initTimeoutMs } : {}),
      });
      const target = {
        runtime,
        functionArn: runtime.functionArn,
        logFile,
        configuration: {
          ...functionConfiguration(spec, runtime.functionArn, environment),
          ...(source ? { Runtime: source.runtime, Handler: source.handler } : {}),
        },
        invoke: (event: unknown) => runtime.invoke(event),
      };
      this.functions.set(id, runtime);
      this.targets.push(target);
      this.byName.set(spec.name, target);
      this.byName.set(id, target);
    }
  }

  /** Starts the Lambda API, the event sources and the schedules. */
  static async start(options: LambdaHostOptions): Promise<LambdaHost> {
    const host = new LambdaHost(options);
    try {
      await host.startParts();
    } catch (error) {
      await host.stop();
      throw error;
    }
    return host;
  }

  private async startParts(): Promise<void> {
    const o = this.options;
    this.server = await startInvokeServer({
      port: o.lambdaPort,
      ...(o.listenHost ? { host: o.listenHost } : {}),
      region: o.region,
      functions: { resolve: (name) => this.byName.get(name), list: () => this.targets },
    });
    await this.startEventSources();
    if (o.enable?.schedules !== false) this.startSchedules();
  }

  private async startEventSources(): Promise<void> {
    const o = this.options;
    const context: EventSourceContext = {
      topology: o.topology,
      region: o.region,
      kinesis: o.kinesis,
      sqs: o.sqs,
      queueUrls: o.queueUrls,
      checkpoints: o.checkpoints,
      ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
      ...(o.retryDelayMs ? { retryDelayMs: o.retryDelayMs } : {}),
      ...(o.log ? { log: o.log } : {}),
      target: (id) => this.runtime(id),
    };
    for (const kind of EVENT_SOURCE_KINDS) {
      if (o.enable?.[kind.kind] === false) continue;
      for (const source of kind.create(context)) {
        this.sources.push(source);
        await source.start();
      }
    }
  }

  private startSchedules(): void {
    const o = this.options;
    this.scheduler = new Scheduler(
      o.topology.schedules.map((spec) => ({
        spec,
        target: this.runtime(spec.function),
        ruleName: `${o.topology.functions[spec.function].name}-schedule`,
      })),
      o.region,
      o.scheduleSpeedUp ?? 1,
      o.log,
    );
    this.scheduler.start();
  }

  private runtime(id: FunctionId): FunctionRuntime {
    const runtime = this.functions.get(id);
    if (!runtime) throw new Error(`topology names an unknown function ${id}`);
    return runtime;
  }

  get lambdaEndpoint(): string {
    if (!this.server) throw new Error('the Lambda host is not started');
    return this.server.url;
  }

  /** Invokes a function by id or deployed name, as the Invoke API does. */
  invoke(functionName: string, event: unknown): Promise<InvocationOutcome> {
    const f = this.byName.get(functionName);
    if (!f) throw new Error(`unknown function ${functionName}`);
    return f.runtime.invoke(event);
  }

  status(): HostStatus {
    const functions: HostStatus['functions'] = {};
    for (const [id, r] of this.functions) functions[id] = { ...r.stats, containers: r.containers };
    const sources: Record<string, Record<string, number>> = {};
    for (const source of this.sources) {
      const sum = sources[source.kind] ?? {};
      for (const [key, value] of Object.entries(source.stats)) sum[key] = (sum[key] ?? 0) + value;
      sources[source.kind] = sum;
    }
    return {
      shards: this.sources.flatMap((s) => s.positions?.() ?? []),
      sources,
      functions,
      lastScheduleRuns: Object.fromEntries(this.scheduler?.lastRuns ?? []),
    };
  }

  /**
   * First half of a graceful stop: stop reading the streams and firing schedules, and let the
   * batches in flight finish and checkpoint. The queue sources keep running, so the drainer
   * can still empty the queues those batches filled. `stop()` afterwards stops the rest.
   */
  async stopIntake(): Promise<void> {
    await Promise.all([...this.sources.filter((s) => s.intake).map((s) => s.stop()), this.scheduler?.stop()]);
  }

  /**
   * Graceful stop: stop polling and schedules, let in-flight batches finish and checkpoint,
   * then retire the containers and close the Lambda API.
   */
  async stop(): Promise<void> {
    await Promise.all([...this.sources.map((s) => s.stop()), this.scheduler?.stop()]);
    await Promise.all([...this.functions.values()].map((f) => f.stop()));
    await this.server?.close();
  }
}
