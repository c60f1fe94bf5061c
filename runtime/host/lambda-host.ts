/**
 * The local Lambda host: every function of the topology, its event source mappings, its
 * schedules and the Invoke API, all read from the one topology definition (src/topology.ts),
 * so the semantics match what the CDK stack configures on AWS.
 */

import path from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionId, QueueId, Topology } from '#topology.js';
import type { CheckpointStore } from './checkpoints.js';
import { FunctionRuntime } from './function-runtime.js';
import { type InvokeServer, startInvokeServer } from './invoke-server.js';
import { KinesisEventSource, type ShardStatus } from './kinesis-source.js';
import type { InvocationOutcome } from './protocol.js';
import { type ScheduleRun, Scheduler } from './scheduler.js';
import { SqsEventSource } from './sqs-source.js';

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
  /** Port of the Invoke API; 0 asks the OS. */
  readonly lambdaPort: number;
  /** Divides schedule periods (demos); 1 is real time. */
  readonly scheduleSpeedUp?: number;
  /** Which parts to run; all by default. Tests switch parts off to look at one at a time. */
  readonly enable?: { readonly kinesis?: boolean; readonly sqs?: boolean; readonly schedules?: boolean };
  readonly pollIntervalMs?: number;
  readonly retryDelayMs?: (attempt: number) => number;
  readonly log?: (message: string) => void;
}

export interface HostStatus {
  readonly shards: ShardStatus[];
  readonly kinesis: KinesisEventSource['stats'];
  readonly sqs: Record<string, SqsEventSource['stats']>;
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

export class LambdaHost {
  readonly functions = new Map<FunctionId, FunctionRuntime>();
  private readonly byName = new Map<string, { id: FunctionId; runtime: FunctionRuntime; logFile: string }>();
  private readonly kinesisSources: KinesisEventSource[] = [];
  private readonly sqsSources = new Map<string, SqsEventSource>();
  private scheduler: Scheduler | undefined;
  private server: InvokeServer | undefined;

  private constructor(private readonly options: LambdaHostOptions) {
    const { topology } = options;
    for (const [id, spec] of Object.entries(topology.functions) as [FunctionId, Topology['functions'][FunctionId]][]) {
      const logFile = path.join(options.logDir, `${spec.name}.log`);
      const runtime = new FunctionRuntime({
        functionName: spec.name,
        handlerPath: path.resolve(options.projectRoot, spec.entry),
        memoryMb: spec.memoryMb,
        timeoutSeconds: spec.timeoutSeconds,
        environment: { ...lambdaEnvironment(spec.name, spec.memoryMb, options.region), ...options.environment },
        region: options.region,
        logFile,
        cwd: options.projectRoot,
      });
      this.functions.set(id, runtime);
      this.byName.set(spec.name, { id, runtime, logFile });
      this.byName.set(id, { id, runtime, logFile });
    }
  }

  /** Starts the Invoke API, the event sources and the schedules. */
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
    const { topology } = o;
    this.server = await startInvokeServer({
      port: o.lambdaPort,
      region: o.region,
      resolve: (name) => {
        const f = this.byName.get(name);
        return (
          f && {
            functionArn: f.runtime.functionArn,
            logFile: f.logFile,
            invoke: (event: unknown) => f.runtime.invoke(event),
          }
        );
      },
    });
    if (o.enable?.kinesis !== false) {
      for (const spec of topology.kinesisSources) {
        const source = new KinesisEventSource({
          spec,
          streamName: topology.stream.name,
          region: o.region,
          kinesis: o.kinesis,
          sqs: o.sqs,
          onFailureQueueUrl: o.queueUrls[spec.onFailure],
          target: this.runtime(spec.function),
          checkpoints: o.checkpoints,
          ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
          ...(o.retryDelayMs ? { retryDelayMs: o.retryDelayMs } : {}),
          ...(o.log ? { log: o.log } : {}),
        });
        this.kinesisSources.push(source);
        await source.start();
      }
    }
    if (o.enable?.sqs !== false) {
      for (const spec of topology.sqsSources) {
        const queue = topology.queues[spec.queue];
        const source = new SqsEventSource({
          spec,
          queueUrl: o.queueUrls[spec.queue],
          queueName: queue.name,
          region: o.region,
          sqs: o.sqs,
          target: this.runtime(spec.function),
          ...(o.log ? { log: o.log } : {}),
        });
        this.sqsSources.set(queue.name, source);
        source.start();
      }
    }
    if (o.enable?.schedules !== false) {
      this.scheduler = new Scheduler(
        topology.schedules.map((spec) => ({
          spec,
          target: this.runtime(spec.function),
          ruleName: `${topology.functions[spec.function].name}-schedule`,
        })),
        o.region,
        o.scheduleSpeedUp ?? 1,
        o.log,
      );
      this.scheduler.start();
    }
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
    const sqs: HostStatus['sqs'] = {};
    for (const [name, s] of this.sqsSources) sqs[name] = { ...s.stats };
    const kinesis = {
      received: 0,
      acknowledged: 0,
      invocations: 0,
      failedInvocations: 0,
      noticesSent: 0,
      recordsGivenUp: 0,
    };
    for (const s of this.kinesisSources)
      for (const k of Object.keys(kinesis) as (keyof typeof kinesis)[]) kinesis[k] += s.stats[k];
    return {
      shards: this.kinesisSources.flatMap((s) => s.status()),
      kinesis,
      sqs,
      functions,
      lastScheduleRuns: Object.fromEntries(this.scheduler?.lastRuns ?? []),
    };
  }

  /**
   * First half of a graceful stop: stop reading the stream and firing schedules, and let the
   * batches in flight finish and checkpoint. The SQS event sources keep running, so the drainer
   * can still empty the queues those batches filled. `stop()` afterwards stops the rest.
   */
  async stopIntake(): Promise<void> {
    await Promise.all([...this.kinesisSources.map((s) => s.stop()), this.scheduler?.stop()]);
  }

  /**
   * Graceful stop: stop polling and schedules, let in-flight batches finish and checkpoint,
   * then retire the containers and close the Invoke API.
   */
  async stop(): Promise<void> {
    await Promise.all([
      ...this.kinesisSources.map((s) => s.stop()),
      ...[...this.sqsSources.values()].map((s) => s.stop()),
      this.scheduler?.stop(),
    ]);
    await Promise.all([...this.functions.values()].map((f) => f.stop()));
    await this.server?.close();
  }
}
