/**
 * Diagnostic probe (not part of `npm run bench`): where does the validator's batch time go?
 * Runs the pieces of `validateBatch` separately over the benchmark's batches, each into its
 * own clone of the schema, alternating per batch: classification alone (CPU), the store's
 * COPY path alone, the errors queue alone (fauxqs in this process, so its server-side CPU is
 * included, as it is in the ingest benchmark), the whole use case, and raw COPY.
 *
 * `packed` prototypes a change to the errors queue: many rejections per SQS message (a JSON
 * array of the same per-record bodies, up to ~240 KiB per message, one SendMessageBatch call
 * per 256 KiB) instead of one message per rejection.
 *
 * Usage: npx tsx bench/probes/ingest-breakdown.ts [records]
 */
import { CreateQueueCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeErrorMessage } from '../../src/domain/error-message.js';
import type { ErrorRecord } from '../../src/domain/reading.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { createSqsClient } from '../../src/adapters/aws/clients.js';
import { toStreamRecord } from '../../src/adapters/lambda/kinesis-event.js';
import { PostgresPipelineStore } from '../../src/adapters/postgres/pipeline-store.js';
import { SqsErrorQueue } from '../../src/adapters/sqs/error-queue.js';
import { classifyBatch } from '../../src/pipeline/classify-batch.js';
import { validateBatch } from '../../src/pipeline/validate-batch.js';
import { topology } from '../../src/topology.js';
import { startSqsEmulator } from '../../runtime/embedded/emulators.js';
import { startBenchServer } from '../common.js';
import { copyText, kinesisEvents, READING_COLUMNS, recordSet, REGION, VALIDATOR_BATCH_SIZE, type RecordSetSpec } from '../records.js';

const records = Number(process.argv[2] ?? 20_000);
const server = await startBenchServer({});
const sqs = await startSqsEmulator({ port: 0, region: REGION });
const sqsClient = createSqsClient({ region: REGION, endpoint: sqs.url });
const queueUrl = (await sqsClient.send(new CreateQueueCommand({ QueueName: 'probe' }))).QueueUrl ?? '';
const queue = new SqsErrorQueue(sqsClient, queueUrl);
const pools = await Promise.all(['store', 'whole', 'copy'].map(async (l) => new pg.Pool({ connectionString: await server.createDatabase(`probe_${l}`), max: 2 })));
const [storePool, wholePool, copyPool] = pools as [pg.Pool, pg.Pool, pg.Pool];
const spec: RecordSetSpec = { count: records, seed: 12, sensors: 1_000, positionOffset: 0 };
const events = kinesisEvents(recordSet(spec), spec, VALIDATOR_BATCH_SIZE);
const totals = { classify: 0, store: 0, queue: 0, packed: 0, whole: 0, copy: 0 };

/** The prototype: pack encoded bodies into as few messages (and calls) as SQS limits allow. */
async function sendPacked(client: SQSClient, url: string, errors: readonly ErrorRecord[]): Promise<void> {
  const LIMIT = 240 * 1024;
  const messages: string[] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const e of errors) {
    const body = encodeErrorMessage(e);
    if (current.length > 0 && bytes + body.length + 1 > LIMIT) {
      messages.push(`{"v":2,"errors":[${current.join(',')}]}`);
      current = [];
      bytes = 0;
    }
    current.push(body);
    bytes += body.length + 1;
  }
  if (current.length > 0) messages.push(`{"v":2,"errors":[${current.join(',')}]}`);
  // One message per call: two ~240 KiB messages would exceed the 256 KiB per-call limit.
  await Promise.all(messages.map((m) => client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: '0', MessageBody: m }] }))));
}
const time = async (key: keyof typeof totals, work: () => Promise<unknown>): Promise<void> => {
  const t = performance.now();
  await work();
  totals[key] += performance.now() - t;
};
const copyClient = await copyPool.connect();
for (const [i, event] of events.entries()) {
  const stream = event.Records.map(toStreamRecord);
  const opts = { payloadCapBytes: topology.payloadCapBytes, now: new Date() };
  const batch = classifyBatch(stream, opts);
  const text = copyText(batch.rows);
  const warm = i < 4;
  const steps: Array<[keyof typeof totals, () => Promise<unknown>]> = [
    ['classify', async () => classifyBatch(stream, opts)],
    ['store', () => new PostgresPipelineStore(storePool).insertReadings(batch.rows)],
    ['queue', () => queue.send(batch.rejections)],
    ['packed', () => sendPacked(sqsClient, queueUrl, batch.rejections)],
    ['whole', () => validateBatch(stream, { store: new PostgresPipelineStore(wholePool), errorQueue: queue, payloadCapBytes: topology.payloadCapBytes })],
    ['copy', () => pipeline(Readable.from([text]), copyClient.query(copyStreams.from(`COPY sensor_readings (${READING_COLUMNS.join(', ')}) FROM STDIN`)))],
  ];
  if (i % 2 === 1) steps.reverse();
  for (const [key, work] of steps) {
    if (warm) await work();
    else await time(key, work);
  }
}
copyClient.release();
const measured = records - 4 * VALIDATOR_BATCH_SIZE;
for (const [k, ms] of Object.entries(totals)) console.log(`${k.padEnd(9)} ${ms.toFixed(0).padStart(6)} ms  ${Math.round((measured / ms) * 1000).toLocaleString('en-US').padStart(9)} records/s`);
await Promise.all(pools.map((p) => p.end()));
sqsClient.destroy();
await sqs.stop();
await server.stop();
