/**
 * Memory benchmark: peak RSS of a validator container handling one large batch.
 *
 * A fresh child process (bench/validator-worker.ts) imports the real handler, notes its peak
 * RSS (the container's floor: Node, tsx, SDK, pg, Powertools), then reads the event as JSON
 * text from a file and parses it (as the Lambda runtime does), handles it against real
 * PostgreSQL and fauxqs, and reports its peak RSS again. `maxRSS` is the kernel's high-water
 * mark for the process, so short-lived peaks between samples are not missed.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '#adapters/aws/clients.js';
import { startSqsEmulator } from '#runtime/embedded/emulators.js';
import { topology } from '#topology.js';
import { type BenchServer, round } from './common.js';
import { kinesisEvents, REGION, type RecordSetSpec, recordSet } from './records.js';
import { WorkerProcess } from './worker-process.js';

export interface MemoryOptions {
  readonly batchRecords: number;
  readonly sensors: number;
  readonly logDir: string;
  readonly log: (line: string) => void;
}

export interface MemoryResult {
  readonly batchRecords: number;
  readonly eventJsonBytes: number;
  readonly maxRssAfterInitMb: number;
  readonly maxRssPeakMb: number;
  /** Peak minus the floor: what the batch itself cost. */
  readonly batchCostMb: number;
  readonly handlerMs: number;
  readonly itemFailures: number;
  readonly heapLimitMb: number;
}

export async function benchMemory(server: BenchServer, options: MemoryOptions): Promise<MemoryResult> {
  const databaseUrl = await server.createDatabase('memory');
  const sqs = await startSqsEmulator({ port: 0, region: REGION });
  const sqsClient = createSqsClient({ region: REGION, endpoint: sqs.url });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iot-first-bench-mem-'));
  let worker: WorkerProcess | undefined;
  try {
    const queueUrl =
      (await sqsClient.send(new CreateQueueCommand({ QueueName: topology.queues.errors.name }))).QueueUrl ?? '';
    const spec: RecordSetSpec = { count: options.batchRecords, seed: 31, sensors: options.sensors, positionOffset: 0 };
    const [event] = kinesisEvents(recordSet(spec), spec, options.batchRecords);
    const json = JSON.stringify(event);
    const eventFile = path.join(dir, 'event.json');
    await writeFile(eventFile, json);
    options.log(`memory: one ${options.batchRecords}-record batch in a fresh validator process`);
    worker = new WorkerProcess(
      { mode: 'memory', eventFile },
      { databaseUrl, errorsQueueUrl: queueUrl, sqsEndpoint: sqs.url },
      path.join(options.logDir, 'memory-validator.log'),
    );
    const reply = await worker.next();
    if (reply.type !== 'memory') throw new Error(`unexpected worker reply ${reply.type}`);
    const mb = (kb: number): number => kb / 1024;
    return {
      batchRecords: reply.records,
      eventJsonBytes: Buffer.byteLength(json),
      maxRssAfterInitMb: round(mb(reply.maxRssAfterInitKb)),
      maxRssPeakMb: round(mb(reply.maxRssAfterBatchKb)),
      batchCostMb: round(mb(reply.maxRssAfterBatchKb - reply.maxRssAfterInitKb)),
      handlerMs: round(reply.ms),
      itemFailures: reply.failures,
      heapLimitMb: topology.functions.validator.memoryMb,
    };
  } finally {
    await worker?.stop();
    sqsClient.destroy();
    await sqs.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
