/**
 * Entry point of one function container: a child process that imports the function's real
 * handler module once (the cold start) and then serves invocations one at a time, like a warm
 * Lambda execution environment. The host owns timeouts: it kills this process when the
 * deadline passes, so nothing here needs to race the handler.
 *
 * argv[2] is the absolute path of the handler module; the module's `handler` export (or the
 * export named by argv[3]) is called as `handler(event, context)` (a third `callback` argument
 * is supported for callback-style handlers, as the Node.js Lambda runtime does).
 *
 * A built asset (the rehearsal of cdk.out) is imported by plain Node before tsx is registered
 * (container-bootstrap.mjs), which then hands the loaded module to {@link serveContainer}.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { type ContainerMessage, type InvokeMessage, toErrorPayload } from './protocol.js';

type Handler = (event: unknown, context: Context, callback: (error: unknown, result?: unknown) => void) => unknown;

function send(message: ContainerMessage): void {
  process.send?.(message);
}

function makeContext(message: InvokeMessage): Context {
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
  const context: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: message.invokedFunctionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    awsRequestId: message.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    getRemainingTimeInMillis: () => Math.max(0, message.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  return context;
}

async function invoke(handler: Handler, message: InvokeMessage): Promise<unknown> {
  const context = makeContext(message);
  if (handler.length >= 3) {
    // Callback-style handler: the first of callback or returned promise settles the invocation.
    return new Promise((resolve, reject) => {
      const callback = (error: unknown, result?: unknown): void => (error ? reject(error) : resolve(result));
      Promise.resolve(handler(message.event, context, callback)).then((value) => {
        if (value !== undefined) resolve(value);
      }, reject);
    });
  }
  return handler(message.event, context, () => undefined);
}

/**
 * Loads the handler with `load` (the cold start), then serves invocations until the host
 * disconnects. `label` names the module in an init error.
 */
export async function serveContainer(
  load: () => Promise<Record<string, unknown>>,
  exportName: string,
  label: string,
): Promise<void> {
  let handler: Handler;
  try {
    const mod = await load();
    if (typeof mod[exportName] !== 'function') {
      throw Object.assign(new Error(`${label} does not export a function named "${exportName}"`), {
        name: 'Runtime.HandlerNotFound',
      });
    }
    handler = mod[exportName] as Handler;
  } catch (error) {
    const payload = toErrorPayload(error);
    send({
      type: 'init-error',
      error: {
        ...payload,
        errorType: payload.errorType.startsWith('Runtime.') ? payload.errorType : 'Runtime.ImportModuleError',
      },
    });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }

  let current: string | undefined;
  process.on('uncaughtException', (error) => {
    // Lambda ends the environment on an uncaught exception; the host starts a fresh one.
    console.error(JSON.stringify({ level: 'ERROR', message: 'uncaught exception', error: String(error) }));
    if (current)
      send({
        type: 'result',
        requestId: current,
        ok: false,
        error: { ...toErrorPayload(error), errorType: 'Runtime.UnhandledError' },
      });
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    console.error(JSON.stringify({ level: 'ERROR', message: 'unhandled rejection', error: String(reason) }));
    if (current)
      send({
        type: 'result',
        requestId: current,
        ok: false,
        error: { ...toErrorPayload(reason), errorType: 'Runtime.UnhandledPromiseRejection' },
      });
    process.exit(1);
  });

  process.on('message', (raw: InvokeMessage) => {
    if (raw?.type !== 'invoke') return;
    current = raw.requestId;
    console.log(`START RequestId: ${raw.requestId} Version: $LATEST`);
    const started = performance.now();
    invoke(handler, raw).then(
      (payload) => {
        current = undefined;
        console.log(
          `END RequestId: ${raw.requestId}\nREPORT RequestId: ${raw.requestId}\tDuration: ${(performance.now() - started).toFixed(2)} ms`,
        );
        send({ type: 'result', requestId: raw.requestId, ok: true, payload: payload === undefined ? null : payload });
      },
      (error: unknown) => {
        current = undefined;
        const payload = toErrorPayload(error);
        console.error(
          JSON.stringify({
            level: 'ERROR',
            requestId: raw.requestId,
            errorType: payload.errorType,
            errorMessage: payload.errorMessage,
          }),
        );
        console.log(
          `END RequestId: ${raw.requestId}\nREPORT RequestId: ${raw.requestId}\tDuration: ${(performance.now() - started).toFixed(2)} ms`,
        );
        send({ type: 'result', requestId: raw.requestId, ok: false, error: payload });
      },
    );
  });
  // The host closes the channel to retire the container; exit then, whatever the handler left open.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

async function main(): Promise<void> {
  const modulePath = process.argv[2];
  if (!modulePath) throw new Error('container-entry: missing handler module path');
  const url = pathToFileURL(modulePath).href;
  await serveContainer(() => import(url), process.argv[3] ?? 'handler', modulePath);
}

// Run when forked as the entry; imported by container-bootstrap.mjs, it only exports serveContainer.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
