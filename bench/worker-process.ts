/**
 * Parent side of bench/validator-worker.ts: forks it with the environment the validator gets
 * on the local Lambda host (and its 512 MB heap limit from the topology), and turns its IPC
 * messages into promises.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { topology } from '#topology.js';
import { PROJECT_ROOT, TSX_IMPORT } from './common.js';
import { REGION } from './records.js';
import type { ParentMessage, WorkerMessage, WorkerSpec } from './validator-worker.js';

const WORKER = fileURLToPath(new URL('./validator-worker.ts', import.meta.url));

export interface ValidatorEnvironment {
  readonly databaseUrl: string;
  readonly errorsQueueUrl: string;
  readonly sqsEndpoint: string;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly waiters: Array<{ resolve: (m: WorkerMessage) => void; reject: (e: Error) => void }> = [];
  private exited: Error | undefined;

  /** `cpuProfileDir`: write a V8 CPU profile of the worker there (`node --cpu-prof`), to see what limits the handler. */
  constructor(spec: WorkerSpec, env: ValidatorEnvironment, logFile: string, cpuProfileDir?: string) {
    const fd = openSync(logFile, 'a');
    const memoryMb = topology.functions.validator.memoryMb;
    this.child = fork(WORKER, [JSON.stringify(spec)], {
      cwd: PROJECT_ROOT,
      execArgv: [
        '--import',
        TSX_IMPORT,
        `--max-old-space-size=${memoryMb}`,
        ...(cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : []),
      ],
      env: {
        ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
        ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
        TZ: 'UTC',
        DATABASE_URL: env.databaseUrl,
        ERRORS_QUEUE_URL: env.errorsQueueUrl,
        SQS_ENDPOINT: env.sqsEndpoint,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        PAYLOAD_CAP_BYTES: String(topology.payloadCapBytes),
        AWS_LAMBDA_FUNCTION_NAME: topology.functions.validator.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
        POWERTOOLS_SERVICE_NAME: topology.functions.validator.name,
        POWERTOOLS_METRICS_NAMESPACE: 'IoTFirst',
      },
      stdio: ['ignore', fd, fd, 'ipc'],
      serialization: 'json',
    });
    closeSync(fd);
    this.child.on('message', (message: WorkerMessage) => {
      const waiter = this.waiters.shift();
      if (!waiter) return;
      if (message.type === 'error') waiter.reject(new Error(`validator worker: ${message.message}`));
      else waiter.resolve(message);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`validator worker exited (${signal ?? `status ${code}`}); see ${logFile}`);
      for (const w of this.waiters.splice(0)) w.reject(this.exited);
    });
  }

  /** The next message from the worker. */
  next(): Promise<WorkerMessage> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async request(message: ParentMessage): Promise<WorkerMessage> {
    const reply = this.next();
    this.child.send(message);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}
