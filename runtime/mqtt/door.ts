/**
 * The whole local MQTT door in one call, as the embedded stack runs it: the CA in the state
 * folder (created at first start), the device registry beside it, the rule engine reading the
 * topology's `mqttDoor` entry and forwarding into the stream, its error destination (the
 * topology's queue, as the CDK rule's error action), and the broker on TLS.
 *
 * The stack (runtime/stack.ts) calls {@link startMqttDoor} after the stream and queues exist and
 * reports `endpoint` as `mqttEndpoint` and `caCertificatePath` in the READY line and
 * endpoints.json; tests and the benchmark call it the same way.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { KinesisStreamWriter, type PutRecordsSender } from '#adapters/kinesis/stream-writer.js';
import { type MqttDoorSpec, mqttDoor } from '#topology.js';
import { type BrokerLog, type RunningBroker, startMqttBroker } from './broker.js';
import { LocalCertificateAuthority } from './certificate-authority.js';
import { localCaDir } from './device-directory.js';
import { DeviceRegistry } from './device-registry.js';
import { type ErrorDestination, LocalRuleEngine } from './rule-engine.js';

export interface MqttDoorOptions {
  /** The stack's state folder; the CA and registry live in its `mqtt/` folder. */
  readonly stateDir: string;
  readonly kinesis: PutRecordsSender;
  readonly streamName: string;
  /** The error destination queue (topology `mqttDoor.errorDestination`); none refuses instead. */
  readonly errorQueue?: { readonly sqs: SQSClient; readonly queueUrl: string } | undefined;
  readonly port?: number;
  readonly host?: string;
  readonly door?: MqttDoorSpec;
  /** How long a message is retried against the stream before the error destination takes it. */
  readonly holdMs?: number;
  readonly log?: BrokerLog;
}

export interface RunningMqttDoor {
  readonly endpoint: string;
  readonly port: number;
  readonly caCertificatePath: string;
  readonly broker: RunningBroker;
  readonly engine: LocalRuleEngine;
  close(): Promise<void>;
}

export function sqsErrorDestination(sqs: SQSClient, queueUrl: string): ErrorDestination {
  return {
    send: async (body) => {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    },
  };
}

export async function startMqttDoor(options: MqttDoorOptions): Promise<RunningMqttDoor> {
  const door = options.door ?? mqttDoor;
  const dir = localCaDir(options.stateDir);
  const ca = LocalCertificateAuthority.open(dir);
  const registry = new DeviceRegistry(dir);
  const engine = new LocalRuleEngine({
    door,
    streamName: options.streamName,
    // Short rounds: the engine itself keeps retrying until the hold expires.
    writer: new KinesisStreamWriter(options.kinesis, options.streamName, { attempts: 3, baseMs: 50, maxMs: 500 }),
    errorDestination: options.errorQueue
      ? sqsErrorDestination(options.errorQueue.sqs, options.errorQueue.queueUrl)
      : undefined,
    holdMs: options.holdMs,
    log: options.log,
  });
  const broker = await startMqttBroker({
    ca,
    registry,
    door,
    ruleEngine: engine,
    port: options.port,
    host: options.host,
    log: options.log,
  });
  return {
    endpoint: broker.endpoint,
    port: broker.port,
    caCertificatePath: ca.caCertificatePath,
    broker,
    engine,
    close: async () => {
      await broker.close();
      await engine.close();
    },
  };
}
