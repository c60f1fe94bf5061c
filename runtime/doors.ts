/**
 * The doors `npm start` opens beside the core stack, in start order: the one place a new door
 * (an HTTP API, an MQTT broker) is registered. None yet; each is a `StackService`
 * (runtime/service.ts) built from the start options (its port flag, say).
 */
import type { StartOptions } from './cli-options.js';
import type { StackService } from './service.js';

export function doorServices(_options: StartOptions): StackService[] {
  return [];
}
