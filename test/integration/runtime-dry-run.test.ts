/**
 * `DryRun` on the local Invoke API (runtime/host/invoke-server.ts), as on AWS: 204, and the
 * function is not run. The function is the real producer, whose run is visible (records in the
 * stream, an invocation and a container in the host's status); a RequestResponse call of the
 * same request afterwards shows those observations would have seen a run.
 */
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { InvokeCommand, type LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type InvokeApiStack, startInvokeApiStack } from '../support/invoke-api-stack.js';
import { copyTopology, type TestStack } from '../support/runtime-stack.js';

let invokeApi: InvokeApiStack | undefined;
let stack: TestStack;
let lambda: LambdaClient;

beforeAll(async () => {
  invokeApi = await startInvokeApiStack(copyTopology(), 'dry_run');
  ({ stack, lambda } = invokeApi);
});
afterAll(() => invokeApi?.close());

async function recordsInStream(): Promise<number> {
  const shards = await stack.kinesis.send(new ListShardsCommand({ StreamName: stack.endpoints.streamName }));
  let n = 0;
  for (const shard of shards.Shards ?? []) {
    const it = await stack.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stack.endpoints.streamName,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    n +=
      (await stack.kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1_000 }))).Records
        ?.length ?? 0;
  }
  return n;
}

const payload = new TextEncoder().encode(JSON.stringify({ count: 20, seed: 3 }));

it('DryRun answers 204 and does not run the function', async () => {
  const dry = await lambda.send(
    new InvokeCommand({ FunctionName: 'iot-producer', InvocationType: 'DryRun', Payload: payload }),
  );
  expect(dry.StatusCode).toBe(204);
  expect(dry.FunctionError).toBeUndefined();
  expect(stack.host.status().functions.producer).toMatchObject({ invocations: 0, coldStarts: 0, containers: 0 });
  expect(await recordsInStream()).toBe(0);

  // The same request run for real is seen by the same observations.
  const real = await lambda.send(new InvokeCommand({ FunctionName: 'iot-producer', Payload: payload }));
  expect(real.StatusCode).toBe(200);
  expect(real.FunctionError).toBeUndefined();
  expect(stack.host.status().functions.producer).toMatchObject({ invocations: 1, coldStarts: 1 });
  expect(await recordsInStream()).toBe(20);
});

it('DryRun of a function that does not exist is ResourceNotFoundException, as on AWS', async () => {
  await expect(
    lambda.send(new InvokeCommand({ FunctionName: 'iot-nothing', InvocationType: 'DryRun', Payload: payload })),
  ).rejects.toBeInstanceOf(ResourceNotFoundException);
});
