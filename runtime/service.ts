/**
 * The seam for the stack's doors (an HTTP API, an MQTT broker, …): a service is started after
 * the core stack (database, Kinesis, SQS, Lambda host) with everything it may need, and hands
 * back its entries for the `READY` line and `endpoints.json`, its status lines and its stop.
 * Adding a door is a module exporting a `StackService` and one entry in `doorServices`
 * (runtime/doors.ts); the stack starts them in order, stops them in reverse before the host,
 * and a failed start stops what had started.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ShardGauge } from '#domain/query-ports.js';
import type { Topology } from '#topology.js';
import type { LambdaHost } from './host/lambda-host.js';
import type { Endpoints } from './stack.js';

export interface ServiceContext {
  readonly endpoints: Endpoints;
  /** Invoke functions (`host.invoke`) as the door's AWS counterpart would. */
  readonly host: LambdaHost;
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  readonly topology: Topology;
  readonly region: string;
  readonly stateDir: string;
  readonly logDir: string;
  /** The address to listen on: loopback unless `npm start --listen-all`. */
  readonly listenHost: string;
  readonly log: (line: string) => void;
  /**
   * The doors started so far, read when called (a door started later shows up then): the API
   * door asks the others for their stream positions (`shardGauges`).
   */
  readonly services?: () => readonly StartedService[];
}

export interface StartedService {
  /** Entries added to the `READY` line and `endpoints.json` (e.g. `{ apiEndpoint: url }`). */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Lines for the status panel, e.g. `api          12 requests, 0 errors`. */
  statusLines?(): string[];
  /** Positions of the streams the door consumes (the Kafka door's partitions), for /api/health. */
  shardGauges?(): readonly ShardGauge[];
  stop(): Promise<void>;
}

export interface StackService {
  /** Named in start-up errors. */
  readonly name: string;
  start(context: ServiceContext): Promise<StartedService>;
}
