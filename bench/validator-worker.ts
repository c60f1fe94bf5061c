/**
 * A child process that hosts the real validator handler, like one warm Lambda container.
 *
 * Why a child process: the handler's module scope (pool, SQS client, Powertools) must live
 * apart from the benchmark's own connections and from the baseline's work, its logs must not
 * flood the terminal (stdout goes to a log file), and peak RSS can only be measured for a
 * whole process. The clock runs here, around `handler(event, context)` only: Lambda's billed
 * Duration, without IPC.
 *
 * Modes (argv[2] is a JSON {@link WorkerSpec}):
 * - `ingest`: rebuilds the benchmark's events deterministically, then runs batch `i` on request;
 * - `memory`: reads one event from a file, handles it, reports `process.resourceUsage().maxRSS`.
 */

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { kinesisEvents, type RecordSetSpec, recordSet } from './records.js';

export type WorkerSpec =
  | {
      readonly mode: 'ingest';
      readonly batchSize: number;
      readonly warmup: RecordSetSpec;
      readonly measured: RecordSetSpec;
    }
  | { readonly mode: 'memory'; readonly eventFile: string };

export type ParentMessage =
  | { readonly type: 'run'; readonly set: 'warmup' | 'measured'; readonly index: number }
  | { readonly type: 'exit' };

export type WorkerMessage =
  | { readonly type: 'ready'; readonly warmupBatches: number; readonly measuredBatches: number }
  | { readonly type: 'done'; readonly ms: number; readonly records: number; readonly failures: number }
  | {
      readonly type: 'memory';
      /** Peak RSS (KiB) after the handler module was imported: the container's floor. */
      readonly maxRssAfterInitKb: number;
      /** Peak RSS (KiB) after reading the event and handling it. */
      readonly maxRssAfterBatchKb: number;
      readonly records: number;
      readonly failures: number;
      readonly ms: number;
    }
  | { readonly type: 'error'; readonly message: string };

type Handler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function context(): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'iot-validator',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:iot-validator',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/iot-validator',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The production handler, imported after spawn so its module scope reads this worker's environment. */
async function loadHandler(): Promise<Handler> {
  const mod = (await import('#lambdas/validator/handler.js')) as { handler: Handler };
  return mod.handler;
}

async function timed(handler: Handler, event: KinesisStreamEvent): Promise<{ ms: number; failures: number }> {
  const started = performance.now();
  const response = await handler(event, context());
  return { ms: performance.now() - started, failures: response.batchItemFailures.length };
}

async function ingest(spec: Extract<WorkerSpec, { mode: 'ingest' }>): Promise<void> {
  const handler = await loadHandler();
  const warmup = kinesisEvents(recordSet(spec.warmup), spec.warmup, spec.batchSize);
  const measured = kinesisEvents(recordSet(spec.measured), spec.measured, spec.batchSize);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') {
      process.exit(0);
    }
    const event = (message.set === 'warmup' ? warmup : measured)[message.index];
    if (!event) {
      send({ type: 'error', message: `no ${message.set} batch ${message.index}` });
      return;
    }
    timed(handler, event).then(
      ({ ms, failures }) => send({ type: 'done', ms, records: event.Records.length, failures }),
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  });
  send({ type: 'ready', warmupBatches: warmup.length, measuredBatches: measured.length });
}

async function memory(spec: Extract<WorkerSpec, { mode: 'memory' }>): Promise<void> {
  const handler = await loadHandler();
  const maxRssAfterInitKb = process.resourceUsage().maxRSS;
  // As the Lambda runtime does: the event arrives as JSON text and is parsed in the process.
  const event = JSON.parse(await readFile(spec.eventFile, 'utf8')) as KinesisStreamEvent;
  const { ms, failures } = await timed(handler, event);
  send({
    type: 'memory',
    maxRssAfterInitKb,
    maxRssAfterBatchKb: process.resourceUsage().maxRSS,
    records: event.Records.length,
    failures,
    ms,
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as WorkerSpec;
(spec.mode === 'ingest' ? ingest(spec) : memory(spec)).catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
});
process.on('disconnect', () => process.exit(0));
