/**
 * `npm run devices -- <command>`: the devices' identities and a fleet simulator over MQTT.
 *
 *   register SENSOR_ID [--out DIR]   a thing, its certificate and key (written to DIR, never printed)
 *   list                             every device certificate and its status
 *   revoke SENSOR_ID                 revokes the device's active certificates
 *   simulate --devices N --count M [--rate R] [--seed S] [--mismatch-rate P]
 *                                    N real MQTT clients publish M readings; prints one JSON summary
 *
 * Target: the embedded stack's local CA in the state folder (`--state-dir`, default
 * `.iot-first`), or AWS IoT Core with `--target aws` (credentials and region as for any AWS
 * command). Exit status: 0 done, 1 failed, 2 misuse.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isThingName } from '#domain/record-origin.js';
import { deviceTopicFor, mqttDoor } from '#topology.js';
import type { AwsDeviceDirectory } from './mqtt/aws-device-directory.js';
import { type DeviceDirectory, LocalDeviceDirectory, localCaDir } from './mqtt/device-directory.js';
import {
  assertOutsideCheckout,
  type DeviceFilePaths,
  defaultDevicesDir,
  readDeviceFiles,
  writeDeviceFiles,
} from './mqtt/device-files.js';
import { readRunningEndpoints, resolveStateDir } from './state-dir.js';

const USAGE = `Usage: npm run devices -- <command> [options]
  register SENSOR_ID [--out DIR]    create the device's identity; its certificate and key go to DIR
                                    (default ~/.iot-first/devices/SENSOR_ID), never into the checkout
  list                              every device certificate and its status
  revoke SENSOR_ID                  revoke the device's active certificates
  simulate --devices N --count M [--rate R] [--seed S] [--mismatch-rate P] [--endpoint URL]
                                    N MQTT clients (own certificates) publish M readings; JSON summary
Options: --target local|aws (default local)  --state-dir DIR (local CA, default .iot-first)
         --devices-dir DIR (simulated devices' files)  --ca FILE (AWS: Amazon's root CA for simulate)`;

class UsageError extends Error {}

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      target: { type: 'string', default: 'local' },
      'state-dir': { type: 'string' },
      out: { type: 'string' },
      'devices-dir': { type: 'string' },
      endpoint: { type: 'string' },
      ca: { type: 'string' },
      devices: { type: 'string' },
      count: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      'mismatch-rate': { type: 'string' },
      'timeout-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function stateDirOf(values: Values): string {
  return resolveStateDir(values['state-dir']);
}

/** The AWS SDK's IoT client and mqtt.js load only for the commands that need them (start-up time). */
async function directoryFor(values: Values): Promise<DeviceDirectory> {
  if (values.target === 'aws') {
    const { AwsDeviceDirectory } = await import('./mqtt/aws-device-directory.js');
    return AwsDeviceDirectory.fromEnvironment(mqttDoor.policyName);
  }
  if (values.target !== 'local') throw new UsageError(`--target must be local or aws, got ${values.target}`);
  return new LocalDeviceDirectory(stateDirOf(values));
}

function thingArg(positionals: string[]): string {
  const thing = positionals[1];
  if (!thing) throw new UsageError('a SENSOR_ID is required');
  if (!isThingName(thing))
    throw new UsageError(`${JSON.stringify(thing)} is not a valid thing name (1 to 128 of a-z A-Z 0-9 : _ -)`);
  return thing;
}

function intArg(values: Values, name: 'devices' | 'count' | 'seed', fallback?: number): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`--${name} is required`);
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < (name === 'seed' ? 0 : 1))
    throw new UsageError(`--${name} must be a ${name === 'seed' ? 'non-negative' : 'positive'} integer, got ${raw}`);
  return n;
}

function numberArg(
  values: Values,
  name: 'rate' | 'mismatch-rate' | 'timeout-seconds',
  max = Infinity,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw new UsageError(`--${name} must be a number in (0, ${max}], got ${raw}`);
  return n;
}

/** The broker a local stack runs, if one runs. */
function runningMqttEndpoint(stateDir: string): string | undefined {
  try {
    return (readRunningEndpoints(stateDir) as { mqttEndpoint?: string }).mqttEndpoint;
  } catch {
    return undefined;
  }
}

/** The exact command to publish one reading by hand, for the answer of `register`. */
function mosquittoCommand(endpoint: string | undefined, thing: string, files: DeviceFilePaths): string {
  const url = new URL(endpoint ?? 'mqtts://127.0.0.1:8883');
  return [
    `mosquitto_pub -h ${url.hostname} -p ${url.port || 8883} -V mqttv311 -q 1`,
    `--cafile '${files.ca}' --cert '${files.certificate}' --key '${files.privateKey}'`,
    `-i ${thing} -t ${deviceTopicFor(thing)}`,
    `-m '{"sensor_id":"${thing}","sensor_type":"temperature","value":21.5,"unit":"°C","manufacturer":"Acme","model":"T-1","min":-40,"max":85,"status":"active","timestamp":"'"$(date -u +%FT%TZ)"'"}'`,
  ].join(' ');
}

async function register(values: Values, positionals: string[]): Promise<number> {
  const thing = thingArg(positionals);
  const out = path.resolve(values.out ?? path.join(defaultDevicesDir(), thing));
  assertOutsideCheckout(out); // before anything is created
  const directory = await directoryFor(values);
  const device = await directory.register(thing);
  const files = writeDeviceFiles(out, device);
  const endpoint = directory.target === 'local' ? runningMqttEndpoint(stateDirOf(values)) : undefined;
  const answer = {
    target: directory.target,
    thingName: thing,
    certificateId: device.certificateId,
    topic: deviceTopicFor(thing),
    files: {
      certificate: files.certificate,
      privateKey: files.privateKey,
      ...(device.caCertificatePem ? { ca: files.ca } : {}),
    },
    ...(endpoint ? { endpoint } : {}),
  };
  process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  if (directory.target === 'local')
    process.stderr.write(
      `\nPublish one reading by hand (npm start running):\n  ${mosquittoCommand(endpoint, thing, files)}\n`,
    );
  return 0;
}

async function simulate(values: Values): Promise<number> {
  const devices = intArg(values, 'devices');
  const count = intArg(values, 'count');
  const seed = intArg(values, 'seed', Math.floor(Math.random() * 2 ** 31));
  const directory = await directoryFor(values);
  let endpoint = values.endpoint;
  let caCertificatePem: string;
  if (directory.target === 'aws') {
    if (!values.ca) throw new UsageError("--target aws needs --ca FILE: Amazon's root CA (AmazonRootCA1.pem)");
    endpoint ??= await (directory as AwsDeviceDirectory).endpoint();
    caCertificatePem = readFileSync(values.ca, 'utf8');
  } else {
    const stateDir = stateDirOf(values);
    endpoint ??= runningMqttEndpoint(stateDir);
    if (!endpoint)
      throw new UsageError(`no running broker found in ${stateDir}; start one with "npm start" or pass --endpoint`);
    caCertificatePem = readFileSync(path.join(localCaDir(stateDir), 'ca.crt'), 'utf8');
  }
  const devicesDir = path.resolve(values['devices-dir'] ?? defaultDevicesDir());
  assertOutsideCheckout(devicesDir);
  const { runDeviceSimulation } = await import('./mqtt/device-simulator.js');
  const result = await runDeviceSimulation({
    endpoint,
    caCertificatePem,
    devices,
    count,
    seed,
    rate: numberArg(values, 'rate'),
    mismatchRate: numberArg(values, 'mismatch-rate', 1),
    timeoutMs: (numberArg(values, 'timeout-seconds') ?? 120) * 1000,
    credentialsFor: async (thing) => {
      const dir = path.join(devicesDir, thing);
      const existing = readDeviceFiles(dir);
      if (existing && (await directory.isActive(existing.certificatePem))) return existing;
      if (existing) await directory.revoke(thing); // a stale identity: issue a fresh one
      const device = await directory.register(thing);
      writeDeviceFiles(dir, device);
      return device;
    },
  });
  process.stdout.write(`${JSON.stringify({ target: directory.target, ...result }, null, 2)}\n`);
  return result.failed > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  try {
    switch (command) {
      case 'register':
        return await register(values, positionals);
      case 'list': {
        const listing = await (await directoryFor(values)).list();
        process.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
        return 0;
      }
      case 'revoke': {
        const thing = thingArg(positionals);
        const revoked = await (await directoryFor(values)).revoke(thing);
        process.stdout.write(`${JSON.stringify({ thingName: thing, revoked })}\n`);
        return revoked > 0 ? 0 : 1;
      }
      case 'simulate':
        return await simulate(values);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    process.stderr.write(`devices: ${(error as Error).message}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
