/**
 * The pipeline under test: `npm start`'s own process (runtime/serve.ts: the Lambda host, the
 * MQTT door, the Kafka door, the API), run as a child in its own process group, on fixed ports
 * and one state folder, attached to the harness's services (infra.ts). A crash fault SIGKILLs
 * the whole group (the host and every function container at once, as a machine failure would)
 * and starts it again on the same state folder and ports, so devices and clients reconnect.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVE = path.join(PROJECT_ROOT, 'runtime/serve.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface StackPorts {
  readonly lambda: number;
  readonly mqtt: number;
  readonly api: number;
}

export interface StackProcessOptions {
  readonly stateDir: string;
  readonly ports: StackPorts;
  readonly databaseUrl: string;
  readonly kinesisEndpoint: string;
  readonly sqsEndpoint: string;
  readonly kafkaBootstrap?: string | undefined;
  /** Aggregator every 60 / n seconds, so windows are computed many times during a run. */
  readonly scheduleSpeedUp: number;
  /** How long a start may take before the run fails (tsx compiles everything at the first one). */
  readonly readyTimeoutMs: number;
}

/** The READY line's document (runtime/stack.ts readyDocument). */
export type ReadyDocument = Record<string, string>;

export class StackProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logStream: WriteStream | undefined;
  starts = 0;
  /** Exits nobody asked for (not a kill or stop of ours): each one is a crash of the pipeline. */
  crashes: string[] = [];
  private expectingExit = false;
  ready: ReadyDocument | undefined;

  constructor(private readonly options: StackProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True when the process is gone without being asked to go. */
  get crashed(): boolean {
    return this.child !== undefined && this.child.exitCode !== null && !this.expectingExit;
  }

  async start(): Promise<ReadyDocument> {
    const o = this.options;
    this.starts++;
    this.logStream = createWriteStream(path.join(o.stateDir, 'logs', `stack-${this.starts}.out`), { flags: 'a' });
    const args = [
      '--import',
      TSX,
      SERVE,
      '--no-producer',
      '--quiet',
      '--state-dir',
      o.stateDir,
      '--lambda-port',
      String(o.ports.lambda),
      '--mqtt-port',
      String(o.ports.mqtt),
      '--api-port',
      String(o.ports.api),
      '--schedule-speedup',
      String(o.scheduleSpeedUp),
      ...(o.kafkaBootstrap ? ['--kafka', o.kafkaBootstrap] : []),
    ];
    const child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT,
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: o.databaseUrl,
        KINESIS_ENDPOINT: o.kinesisEndpoint,
        SQS_ENDPOINT: o.sqsEndpoint,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.expectingExit = false;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (!this.expectingExit && this.ready) this.crashes.push(`${new Date().toISOString()} exit ${signal ?? code}`);
    });
    const log = this.logStream;
    child.stderr?.pipe(log, { end: false });
    let out: string | undefined = '';
    this.ready = await new Promise<ReadyDocument>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the stack did not print READY within ${o.readyTimeoutMs} ms`)),
        o.readyTimeoutMs,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        if (out === undefined) return;
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.startsWith('READY '));
        if (line) {
          out = undefined; // the status lines after READY go to the log only
          clearTimeout(timer);
          resolve(JSON.parse(line.slice('READY '.length)) as ReadyDocument);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the stack exited before READY (${signal ?? code}); see ${log.path}`));
      });
    });
    return this.ready;
  }

  /** SIGKILL of the host and every container (the whole process group). */
  async kill(): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    this.expectingExit = true;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await this.exited;
    this.child = undefined;
  }

  /** Graceful stop (SIGTERM); SIGKILL after `limitMs`. Answers whether it stopped by itself and how long it took. */
  async stop(limitMs: number): Promise<{ graceful: boolean; ms: number }> {
    const child = this.child;
    if (!child?.pid) return { graceful: true, ms: 0 };
    const started = Date.now();
    this.expectingExit = true;
    child.kill('SIGTERM');
    const graceful = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), limitMs)),
    ]);
    if (!graceful) await this.kill();
    else {
      // Containers left behind by a host that exited are part of the group: never leave them.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // none left
      }
    }
    this.child = undefined;
    this.logStream?.end();
    return { graceful, ms: Date.now() - started };
  }
}
