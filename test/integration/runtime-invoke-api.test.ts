/**
 * The Lambda Invoke API of the embedded host, driven by the real `@aws-sdk/client-lambda`
 * InvokeCommand, and the container behaviour behind it (warm reuse, timeout enforcement,
 * Lambda's environment). The function is a fixture that echoes its event and context.
 */

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTopology, PROJECT_ROOT, startTestStack, type TestStack, withFixtures } from '../support/runtime-stack.js';

/** Runs `npm run invoke`'s script (runtime/invoke.ts) and collects its output. */
function invokeCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, 'runtime/invoke.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

let stack: TestStack;
let lambda: LambdaClient;
const decoder = new TextDecoder();

beforeAll(async () => {
  const t = withFixtures(copyTopology(), { producer: 'test/fixtures/handlers/echo.ts' });
  t.functions.producer.timeoutSeconds = 2;
  process.env.HOST_ONLY = 'must not leak into functions';
  stack = await startTestStack({
    topology: t,
    label: 'rt_invoke',
    host: { enable: { kinesis: false, sqs: false, schedules: false } },
  });
  lambda = new LambdaClient({
    region: 'us-east-1',
    endpoint: stack.endpoints.lambdaEndpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});
afterAll(async () => {
  lambda?.destroy();
  await stack?.close();
});

async function invoke(
  name: string,
  payload: unknown,
  extra: Partial<ConstructorParameters<typeof InvokeCommand>[0]> = {},
) {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: name, Payload: new TextEncoder().encode(JSON.stringify(payload)), ...extra }),
  );
  return {
    ...out,
    body:
      out.Payload && out.Payload.length > 0
        ? (JSON.parse(decoder.decode(out.Payload)) as Record<string, unknown>)
        : undefined,
  };
}

describe('Lambda Invoke API', () => {
  it('invokes by deployed name, logical id or ARN with a Lambda context and environment, reusing the warm container', async () => {
    const name = stack.topology.functions.producer.name;
    const first = await invoke(name, { count: 3 });
    expect(first.StatusCode).toBe(200);
    expect(first.FunctionError).toBeUndefined();
    expect(first.ExecutedVersion).toBe('$LATEST');
    expect(first.body).toMatchObject({
      event: { count: 3 },
      functionName: name,
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      memoryLimitInMB: String(stack.topology.functions.producer.memoryMb),
      env: { AWS_REGION: 'us-east-1', STREAM_NAME: stack.endpoints.streamName, HOST_ONLY: null },
    });
    expect(first.body?.remainingMs).toBeGreaterThan(0);
    expect(first.body?.remainingMs).toBeLessThanOrEqual(2_000);
    const second = await invoke('producer', {});
    const third = await invoke(`arn:aws:lambda:us-east-1:000000000000:function:${name}`, {});
    expect(second.body?.pid).toBe(first.body?.pid);
    expect(third.body?.invocationsInThisContainer).toBe(3);
  });

  it('reports a thrown error as FunctionError Unhandled with the error type and message', async () => {
    const out = await invoke('producer', { throw: 'bad input' });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(out.body).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad input' });
  });

  it('kills a container that exceeds the timeout and serves the next invocation from a fresh one', async () => {
    const before = await invoke('producer', {});
    const out = await invoke('producer', { sleepMs: 10_000 });
    expect(out.FunctionError).toBe('Unhandled');
    expect(String(out.body?.errorMessage)).toMatch(/Task timed out after 2\.00 seconds/);
    const after = await invoke('producer', {});
    expect(after.FunctionError).toBeUndefined();
    expect(after.body?.pid).not.toBe(before.body?.pid);
  });

  it('returns the log tail when asked, accepts Event invocations, and 404s unknown functions', async () => {
    const tail = await invoke('producer', {}, { LogType: 'Tail' });
    expect(Buffer.from(tail.LogResult ?? '', 'base64').toString('utf8')).toContain(String(tail.body?.requestId));
    const async = await lambda.send(
      new InvokeCommand({ FunctionName: 'producer', InvocationType: 'Event', Payload: new TextEncoder().encode('{}') }),
    );
    expect(async.StatusCode).toBe(202);
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'no-such-function' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('npm run invoke prints the answer and exits 1 on a function error', async () => {
    const ok = await invokeCli(['producer', '{"count":5}', '--endpoint', stack.endpoints.lambdaEndpoint]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ event: { count: 5 } });
    const failed = await invokeCli(['producer', '{"throw":"no"}', '--endpoint', stack.endpoints.lambdaEndpoint]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ errorType: 'TypeError', errorMessage: 'no' });
    const bad = await invokeCli(['producer', '{not json', '--endpoint', stack.endpoints.lambdaEndpoint]);
    expect(bad.code).toBe(2);
  });
});
