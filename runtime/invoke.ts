/**
 * `npm run invoke -- <function> [json-payload]`: invokes a function of the running embedded
 * stack through its Lambda Invoke API with the real `@aws-sdk/client-lambda`, exactly as one
 * would invoke the deployed function, and prints the handler's answer.
 *
 * The endpoint comes from `--endpoint`, `LAMBDA_ENDPOINT`, or the running stack's
 * `endpoints.json` (runtime/state-dir.ts: `--state-dir`, `IOT_FIRST_STATE_DIR`, `.iot-first`).
 * Exit status: 0 on success, 1 on a function error, 2 on misuse.
 */

import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { readRunningEndpoints, resolveStateDir } from './state-dir.js';

const USAGE = `Usage: npm run invoke -- <function> ['{"json":"payload"}'] [--endpoint URL] [--state-dir DIR] [--log]
  <function>  producer | validator | dlqDrainer | aggregator, or a deployed name (iot-producer)
  example:    npm run invoke -- producer '{"count":1000}'`;

function endpointFrom(stateDir: string): string {
  const { lambdaEndpoint } = readRunningEndpoints(stateDir);
  if (!lambdaEndpoint) throw new Error(`the running stack in ${stateDir} names no Lambda endpoint; pass --endpoint`);
  return lambdaEndpoint;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      endpoint: { type: 'string' },
      'state-dir': { type: 'string' },
      log: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [fn, payload = '{}'] = positionals;
  if (values.help || !fn) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  try {
    JSON.parse(payload);
  } catch {
    process.stderr.write(`invoke: the payload is not valid JSON: ${payload}\n`);
    return 2;
  }
  const endpoint = values.endpoint ?? process.env.LAMBDA_ENDPOINT ?? endpointFrom(resolveStateDir(values['state-dir']));
  const client = new LambdaClient({
    region: process.env.AWS_REGION ?? 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  try {
    const out = await client.send(
      new InvokeCommand({
        FunctionName: fn,
        Payload: new TextEncoder().encode(payload),
        ...(values.log ? { LogType: 'Tail' as const } : {}),
      }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    let pretty = text;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON: print as is
    }
    if (out.LogResult) process.stderr.write(`${Buffer.from(out.LogResult, 'base64').toString('utf8')}\n`);
    process.stdout.write(`${pretty}\n`);
    if (out.FunctionError) {
      process.stderr.write(`invoke: ${fn} failed (${out.FunctionError})\n`);
      return 1;
    }
    return 0;
  } finally {
    client.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`invoke: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
