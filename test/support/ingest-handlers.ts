/**
 * The validator and drainer handlers, imported once per test file against real parts: a fresh
 * test database, fauxqs with the errors queue and, when asked, kinesalite (the drainer reads
 * failure notices' ranges back from it). Handlers read their configuration at import, so the
 * environment is set before the import.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import pg from 'pg';
import { createTestDatabase } from './database.js';
import { REGION, type RunningKinesis, type RunningSqs, startKinesis, startSqs } from './emulators.js';
import type { lambdaContext } from './factories.js';

type Handler<E, R> = (event: E, context: ReturnType<typeof lambdaContext>) => Promise<R>;

export interface IngestHandlers {
  readonly databaseUrl: string;
  readonly db: pg.Pool;
  readonly sqs: RunningSqs;
  /** Present when started with `kinesis: true`. */
  readonly kinesis: RunningKinesis | undefined;
  readonly errorsQueueUrl: string;
  readonly validator: Handler<KinesisStreamEvent, KinesisStreamBatchResponse>;
  readonly drainer: Handler<SQSEvent, SQSBatchResponse>;
  stop(): Promise<void>;
}

export async function startIngestHandlers(options: {
  readonly database: string;
  readonly kinesis?: boolean;
}): Promise<IngestHandlers> {
  const databaseUrl = await createTestDatabase(options.database);
  const [sqs, kinesis] = await Promise.all([startSqs(), options.kinesis ? startKinesis() : undefined]);
  const errorsQueueUrl = await sqs.createQueue('iot-sensor-errors');
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    ERRORS_QUEUE_URL: errorsQueueUrl,
    SQS_ENDPOINT: sqs.endpoint,
    ...(kinesis ? { KINESIS_ENDPOINT: kinesis.endpoint } : {}),
    AWS_REGION: REGION,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const validator = (await import('#lambdas/validator/handler.js')).handler as IngestHandlers['validator'];
  const drainer = (await import('#lambdas/dlq-drainer/handler.js')).handler as IngestHandlers['drainer'];
  return {
    databaseUrl,
    db,
    sqs,
    kinesis,
    errorsQueueUrl,
    validator,
    drainer,
    stop: async () => {
      await db.end();
      await Promise.all([sqs.stop(), kinesis?.stop()]);
    },
  };
}
