/**
 * The Lambda Invoke API of the embedded host, driven by the real `@aws-sdk/client-lambda`
 * InvokeCommand, and the container behaviour behind it (warm reuse, timeout enforcement,
 * Lambda's environment). The function is a fixture that echoes its event and context.
 */

import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  GetFunctionCommand,
  InvokeCommand,
  type LambdaClient,
  ListFunctionsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointsFile, STATE_DIR_ENV } from '#runtime/state-dir.js';
import { type InvokeApiStack, startInvokeApiStack } from '../support/invoke-api-stack.js';
import { copyTopology, PROJECT_ROOT, type TestStack, withFixtures } from '../support/runtime-stack.js';

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs a command and collects its output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs one of the project's command-line scripts (`npm run invoke`, `npm run psql`, …). */
function script(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return run(process.execPath, ['--import', TSX, path.join(PROJECT_ROOT, file), ...args], env);
}

const invokeCli = (args: string[], env?: NodeJS.ProcessEnv): Promise<Run> => script('runtime/invoke.ts', args, env);

/** The real AWS CLI, when installed (`.ci/run` has it; elsewhere its tests say why they skip). */
const AWS_CLI = spawnSync('aws', ['--version']).status === 0;
const PSQL = spawnSync('psql', ['--version']).status === 0;
if (!AWS_CLI || !PSQL) {
  const missing = [!AWS_CLI && 'the AWS CLI (aws)', !PSQL && 'psql'].filter(Boolean).join(' and ');
  if (process.env.CI === 'true') throw new Error(`${missing} must be installed under CI`);
  console.warn(`runtime-invoke-api: ${missing} not installed; the tests that drive them are skipped`);
}

let invokeApi: InvokeApiStack | undefined;
let stack: TestStack;
let lambda: LambdaClient;
const decoder = new TextDecoder();

beforeAll(async () => {
  const t = withFixtures(copyTopology(), { producer: 'test/fixtures/handlers/echo.ts' });
  t.functions.producer.timeoutSeconds = 2;
  process.env.HOST_ONLY = 'must not leak into functions';
  invokeApi = await startInvokeApiStack(t, 'rt_invoke');
  ({ stack, lambda } = invokeApi);
});
afterAll(() => invokeApi?.close());

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

  it('answers ListFunctions (paged) and GetFunction as AWS does, for the SDK', async () => {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 3, ...(marker ? { Marker: marker } : {}) }));
      expect((page.Functions ?? []).length).toBeLessThanOrEqual(3);
      names.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? ''));
      marker = page.NextMarker;
    } while (marker);
    expect(names.sort()).toEqual(
      Object.values(stack.topology.functions)
        .map((f) => f.name)
        .sort(),
    );
    const producer = stack.topology.functions.producer;
    const byArn = await lambda.send(
      new GetFunctionCommand({ FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${producer.name}` }),
    );
    expect(byArn.Configuration).toMatchObject({
      FunctionName: producer.name,
      Timeout: 2,
      MemorySize: producer.memoryMb,
      Description: producer.description,
    });
    expect(byArn.Configuration?.Environment?.Variables?.STREAM_NAME).toBe(stack.endpoints.streamName);
    await expect(lambda.send(new GetFunctionCommand({ FunctionName: 'no-such-function' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it.skipIf(!AWS_CLI)(
    'answers `aws lambda list-functions` and `get-function` (skipped without the AWS CLI)',
    async () => {
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
        AWS_DEFAULT_REGION: 'us-east-1',
      };
      const endpoint = ['--endpoint-url', stack.endpoints.lambdaEndpoint, '--output', 'json'];
      const list = await run('aws', ['lambda', 'list-functions', ...endpoint], env);
      expect(list.stderr).toBe('');
      const listed = JSON.parse(list.stdout) as { Functions: { FunctionName: string }[] };
      expect(listed.Functions.map((f) => f.FunctionName).sort()).toEqual(
        Object.values(stack.topology.functions)
          .map((f) => f.name)
          .sort(),
      );
      const get = await run('aws', ['lambda', 'get-function', '--function-name', 'producer', ...endpoint], env);
      expect(JSON.parse(get.stdout)).toMatchObject({
        Configuration: { FunctionName: stack.topology.functions.producer.name },
      });
      const missing = await run('aws', ['lambda', 'get-function', '--function-name', 'nope', ...endpoint], env);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('ResourceNotFoundException');
    },
  );

  it('finds the stack from --state-dir or IOT_FIRST_STATE_DIR, flag first (invoke, dq, psql)', async () => {
    await writeFile(endpointsFile(stack.stateDir), JSON.stringify(stack.endpoints));
    const { LAMBDA_ENDPOINT: _l, DATABASE_URL: _d, ...clean } = process.env;
    const byFlag = await invokeCli(['producer', '{"count":1}', '--state-dir', stack.stateDir], {
      ...clean,
      [STATE_DIR_ENV]: '/nonexistent',
    });
    expect(byFlag.code).toBe(0);
    const byEnv = await invokeCli(['producer', '{"count":2}'], { ...clean, [STATE_DIR_ENV]: stack.stateDir });
    expect(byEnv.code).toBe(0);
    expect(JSON.parse(byEnv.stdout)).toMatchObject({ event: { count: 2 } });
    const none = await invokeCli(['producer', '{}'], { ...clean, [STATE_DIR_ENV]: '/nonexistent' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('/nonexistent/endpoints.json');
    const dq = await script('dq/cli.ts', ['--state-dir', stack.stateDir, 'test/fixtures/dq/ok.yml'], {
      ...clean,
      [STATE_DIR_ENV]: '/nonexistent',
    });
    expect(dq.stderr).toBe('');
    expect(dq.code).toBe(0);
    if (!PSQL) return;
    const psql = await script('runtime/psql.ts', ['--state-dir', stack.stateDir, '-tAc', 'SELECT 40 + 2'], clean);
    expect(psql.stdout.trim()).toBe('42');
  });
});
