/**
 * The services a soak run stops and starts under the pipeline: PostgreSQL, the stream emulator
 * (kinesalite) and the queue emulator (fauxqs with the embedded stack's write-ahead journal),
 * plus the Kafka broker when kcat is installed. They run in the harness, on fixed ports and in
 * the run's state folder, and the stack (stack-process.ts) reaches them through DATABASE_URL,
 * KINESIS_ENDPOINT and SQS_ENDPOINT, as it reaches any external service. Only so can a fault
 * stop one of them and bring it back on the same address with the same data, which is what an
 * outage of a managed service looks like to the pipeline.
 *
 * The queue emulator is restarted the way `npm start` starts it: journal opened, queues and the
 * alert topic ensured from the topology, outstanding messages re-sent (runtime/stack.ts,
 * runtime/alert-topic.ts, sqs-journal.ts).
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { createSqsClient } from '#adapters/aws/clients.js';
import { ensureAlertTopic } from '#runtime/alert-topic.js';
import {
  leveldownAvailable,
  type RunningEmulator,
  startKinesalite,
  startSqsEmulator,
} from '#runtime/embedded/emulators.js';
import { ensureDatabase, type RunningPostgres, startEmbeddedPostgres } from '#runtime/embedded/postgres.js';
import { replayJournal, SqsJournal } from '#runtime/embedded/sqs-journal.js';
import { type MockKafka, startMockKafka } from '#runtime/kafka/mock-cluster.js';
import { ensureQueues, sqsJournalFile } from '#runtime/stack.js';
import { topology } from '#topology.js';

export const REGION = 'us-east-1';
const DATABASE = 'iot_first';

export interface InfraPorts {
  readonly postgres: number;
  readonly kinesis: number;
  readonly sqs: number;
}

/** One restartable service: stopped and started again on the same port with the same data. */
export interface Restartable {
  stop(): Promise<void>;
  start(): Promise<void>;
}

export class SoakInfra {
  private pg: RunningPostgres | undefined;
  private kinesalite: RunningEmulator | undefined;
  private fauxqs: RunningEmulator | undefined;
  kafka: MockKafka | undefined;
  /** False when kinesalite cannot persist here (no leveldown): a restart would lose the stream. */
  readonly kinesisPersistent = leveldownAvailable();

  constructor(
    readonly stateDir: string,
    readonly ports: InfraPorts,
    private readonly log: (line: string) => void,
  ) {}

  get databaseUrl(): string {
    return `postgres://postgres:iot-first-local@127.0.0.1:${this.ports.postgres}/${DATABASE}`;
  }
  get adminUrl(): string {
    return `postgres://postgres:iot-first-local@127.0.0.1:${this.ports.postgres}/postgres`;
  }
  get kinesisEndpoint(): string {
    return `http://127.0.0.1:${this.ports.kinesis}`;
  }
  get sqsEndpoint(): string {
    return `http://127.0.0.1:${this.ports.sqs}`;
  }

  async start(withKafka: boolean): Promise<void> {
    await this.postgres.start();
    await ensureDatabase(this.adminUrl, DATABASE);
    await this.stream.start();
    await this.queues.start();
    if (withKafka) this.kafka = await startMockKafka();
  }

  async stop(): Promise<void> {
    await this.kafka?.stop().catch(() => undefined);
    await this.queues.stop().catch(() => undefined);
    await this.stream.stop().catch(() => undefined);
    await this.postgres.stop().catch(() => undefined);
  }

  readonly postgres: Restartable = {
    stop: async () => {
      const pg = this.pg;
      this.pg = undefined;
      await pg?.stop();
    },
    start: async () => {
      const pgLog = path.join(this.stateDir, 'logs', 'postgres.log');
      this.pg = await startEmbeddedPostgres({
        stateDir: this.stateDir,
        port: this.ports.postgres,
        persistent: true,
        onLog: (line) => appendFileSync(pgLog, `${line}\n`),
      });
    },
  };

  readonly stream: Restartable = {
    stop: async () => {
      const k = this.kinesalite;
      this.kinesalite = undefined;
      await k?.stop();
    },
    start: async () => {
      this.kinesalite = await startKinesalite({
        port: this.ports.kinesis,
        dataDir: this.kinesisPersistent ? path.join(this.stateDir, 'kinesis') : undefined,
      });
    },
  };

  readonly queues: Restartable = {
    stop: async () => {
      const q = this.fauxqs;
      this.fauxqs = undefined;
      await q?.stop();
    },
    start: async () => {
      const journal = SqsJournal.open({ file: sqsJournalFile(this.stateDir), log: this.log });
      this.fauxqs = await startSqsEmulator({ port: this.ports.sqs, region: REGION, journal });
      const sqs = createSqsClient({ region: REGION, endpoint: this.sqsEndpoint });
      try {
        await ensureQueues(sqs, topology);
        // fauxqs keeps topics in memory only: the alert topic and its subscription come back too.
        await ensureAlertTopic({ endpoint: this.sqsEndpoint, region: REGION, sqs, topology });
        if (journal.recovered.outstanding > 0) {
          const { replayed, kept } = await replayJournal(journal, sqs, this.log);
          this.log(`sqs journal: ${replayed} message(s) re-sent after the restart, ${kept} kept`);
        }
      } finally {
        sqs.destroy();
      }
    },
  };
}
