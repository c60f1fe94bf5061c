/**
 * The set-up of the Invoke API tests: a stack whose host serves only the Lambda Invoke API (no
 * event sources, no schedules, so nothing runs a function but the test), and the real
 * `@aws-sdk/client-lambda` pointed at it.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Topology } from '#topology.js';
import { startTestStack, type TestStack } from './runtime-stack.js';

/** The real Lambda client on a local Invoke API endpoint (the host checks no credentials). */
export function localLambdaClient(endpoint: string, region = 'us-east-1'): LambdaClient {
  return new LambdaClient({ region, endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
}

export interface InvokeApiStack {
  readonly stack: TestStack;
  readonly lambda: LambdaClient;
  /** Destroys the client, stops the stack and removes its state folder. */
  close(): Promise<void>;
}

export async function startInvokeApiStack(topology: Topology, label: string): Promise<InvokeApiStack> {
  const stack = await startTestStack({
    topology,
    label,
    host: { enable: { kinesis: false, sqs: false, schedules: false } },
  });
  const lambda = localLambdaClient(stack.endpoints.lambdaEndpoint);
  return {
    stack,
    lambda,
    close: async () => {
      lambda.destroy();
      await stack.close();
    },
  };
}
