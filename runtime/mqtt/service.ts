/**
 * The MQTT door as a service of `npm start` (runtime/service.ts): the broker and rule engine
 * of runtime/mqtt/door.ts on the stack's stream, with the topology's error destination queue.
 * Adds `mqttEndpoint` and `mqttCaCertificate` (the CA file devices trust) to the READY line and
 * endpoints.json, and one status line.
 */
import { mqttDoor } from '#topology.js';
import type { ServiceContext, StackService, StartedService } from '../service.js';
import { startMqttDoor } from './door.js';

function errorQueueUrl(context: ServiceContext): string {
  return mqttDoor.errorDestination === 'errors' ? context.endpoints.errorsQueueUrl : context.endpoints.failuresQueueUrl;
}

export function mqttService(port: number): StackService {
  return {
    name: 'mqtt',
    async start(context: ServiceContext): Promise<StartedService> {
      const door = await startMqttDoor({
        stateDir: context.stateDir,
        kinesis: context.kinesis,
        streamName: context.endpoints.streamName,
        errorQueue: { sqs: context.sqs, queueUrl: errorQueueUrl(context) },
        port,
        host: context.listenHost,
        log: (entry) => context.log(JSON.stringify({ service: 'mqtt', ...entry })),
      });
      return {
        endpoints: { mqttEndpoint: door.endpoint, mqttCaCertificate: door.caCertificatePath },
        statusLines: () => {
          const c = door.engine.counters;
          return [
            `mqtt         ${door.broker.connectedClients()} devices connected   forwarded ${c.forwarded}   to errors queue ${c.toErrorDestination}   refused ${c.refused}`,
          ];
        },
        stop: () => door.close(),
      };
    },
  };
}
