/**
 * The doors `npm start` opens beside the core stack, in start order: the one place a new door
 * (an HTTP API, an MQTT broker) is registered. Each is a `StackService`
 * (runtime/service.ts) built from the start options (its port flag, say).
 */
import type { StartOptions } from './cli-options.js';
import { kafkaDoor } from './kafka/service.js';
import { mqttService } from './mqtt/service.js';
import type { StackService } from './service.js';

export function doorServices(options: StartOptions): StackService[] {
  const doors: StackService[] = [mqttService(options.ports.mqtt)];
  if (options.kafka) doors.push(kafkaDoor(options.kafka));
  return doors;
}
