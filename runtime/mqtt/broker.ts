/**
 * The local MQTT broker of the devices' door: aedes on TLS, with client certificates from the
 * local CA and the authorization of the IoT policy the CDK stack deploys (infra/), so what a
 * device may do locally is what it may do on AWS IoT Core:
 * - connect only with a registered, active certificate of this CA, and only with its thing name
 *   as client id;
 * - publish only to its own topic (`iot/sensors/{thing}/readings`), at most 128 KiB, QoS 0 or 1;
 * - subscribe only to its own topic space, never to another device's;
 * - a burst of connection attempts is throttled per device.
 * Every refusal is a log line naming the reason and the MQTT code sent. aedes 1.2 speaks MQTT 3.1
 * and 3.1.1 (a v5 CONNECT is refused with return code 1), so the codes are 3.1.1's: CONNACK 2
 * (identifier rejected), 3 (server unavailable: throttled), 5 (not authorized); SUBACK 0x80;
 * 3.1.1 has no negative PUBACK, so a refused publish closes the connection, as IoT Core does
 * for 3.1.1 clients. The log line also names the MQTT 5 reason code IoT Core would send.
 *
 * A QoS 1 publish is acknowledged only after the rule engine has the record in the stream (see
 * rule-engine.ts): the forward runs inside aedes' authorizePublish, which precedes its PUBACK.
 */
import type { AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import { deviceTopicFor, type MqttDoorSpec } from '#topology.js';
import type { LocalCertificateAuthority } from './certificate-authority.js';
import type { DeviceRegistry } from './device-registry.js';
import type { LocalRuleEngine } from './rule-engine.js';

export type BrokerLog = (entry: Record<string, unknown>) => void;

export interface MqttBrokerOptions {
  readonly ca: LocalCertificateAuthority;
  readonly registry: DeviceRegistry;
  readonly door: Pick<MqttDoorSpec, 'deviceTopic' | 'maxMessageBytes' | 'connectBurst'>;
  readonly ruleEngine: Pick<LocalRuleEngine, 'matches' | 'forward'>;
  readonly host?: string;
  readonly port?: number;
  readonly log?: BrokerLog;
}

export interface RunningBroker {
  /** `mqtts://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly port: number;
  readonly caCertificatePath: string;
  connectedClients(): number;
  close(): Promise<void>;
}

/** MQTT 3.1.1 CONNACK return codes used here. */
const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, NOT_AUTHORIZED: 5 } as const;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** Token bucket per device: `burst` attempts at once, then `perSecond`. */
class ConnectThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limits: MqttDoorSpec['connectBurst']) {}

  take(key: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.limits.burst, at: now };
    bucket.tokens = Math.min(this.limits.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limits.perSecond);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return allowed;
  }
}

function remoteOf(client: Client | null): string {
  const socket = client?.conn as TLSSocket | undefined;
  return socket?.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown';
}

/** The authorization of the IoT policy, as aedes hooks. */
function policyHooks(options: MqttBrokerOptions, log: BrokerLog): Partial<AedesOptions> {
  const throttle = new ConnectThrottle(options.door.connectBurst);
  const refuse = (client: Client | null, fields: Record<string, unknown>) =>
    log({ level: 'WARN', message: 'refused', clientId: client?.id, remote: remoteOf(client), ...fields });

  return {
    authenticate(client, _username, _password, done) {
      const socket = client.conn as TLSSocket;
      const deny = (reason: string, code: number, mqtt5: string) => {
        refuse(client, { action: 'connect', reason, code, mqtt5 });
        done(authError(reason, code), false);
      };
      if (!socket.authorized) {
        const why = socket.authorizationError ? String(socket.authorizationError) : 'no client certificate';
        return deny(`certificate not accepted: ${why}`, CONNACK.NOT_AUTHORIZED, '0x87 Not authorized');
      }
      const entry = options.registry.byFingerprint(socket.getPeerCertificate().fingerprint256);
      if (!entry) return deny('certificate not registered', CONNACK.NOT_AUTHORIZED, '0x87 Not authorized');
      if (!throttle.take(entry.thingName))
        return deny('too many connection attempts', CONNACK.SERVER_UNAVAILABLE, '0x9F Connection rate exceeded');
      if (entry.status !== 'ACTIVE')
        return deny(`certificate ${entry.status.toLowerCase()}`, CONNACK.NOT_AUTHORIZED, '0x87 Not authorized');
      if (client.id !== entry.thingName)
        return deny(
          `client id is not the thing name ${JSON.stringify(entry.thingName)}`,
          CONNACK.IDENTIFIER_REJECTED,
          '0x85 Client Identifier not valid',
        );
      done(null, true);
    },

    authorizePublish(client, packet, done) {
      if (client === null) return done(null); // the broker's own messages ($SYS), none reach the stream
      const deny = (reason: string, mqtt5: string) => {
        refuse(client, { action: 'publish', topic: packet.topic, reason, code: 'disconnect', mqtt5 });
        done(new Error(reason));
      };
      if (packet.topic !== deviceTopicFor(client.id, options.door))
        return deny('not its own topic', '0x87 Not authorized');
      const size = Buffer.byteLength(packet.payload);
      if (size > options.door.maxMessageBytes)
        return deny(`payload of ${size} bytes exceeds ${options.door.maxMessageBytes}`, '0x95 Packet too large');
      if (packet.qos === 2)
        return deny('QoS 2 is not supported (IoT Core accepts QoS 0 and 1)', '0x9B QoS not supported');
      if (!options.ruleEngine.matches(packet.topic)) return done(null);
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      options.ruleEngine.forward({ topic: packet.topic, payload, clientId: client.id }).then(
        () => done(null),
        (error: Error) => {
          log({ level: 'WARN', message: 'publish not acknowledged', clientId: client.id, reason: error.message });
          done(error);
        },
      );
    },

    authorizeSubscribe(client, subscription, done) {
      const own = `${deviceTopicFor(client.id, options.door).split('/').slice(0, 3).join('/')}/`;
      if (subscription.topic === own.slice(0, -1) || subscription.topic.startsWith(own))
        return done(null, subscription);
      refuse(client, {
        action: 'subscribe',
        topic: subscription.topic,
        reason: 'not its own topic space',
        code: 0x80,
        mqtt5: '0x87 Not authorized',
      });
      done(null, null);
    },

    authorizeForward(client, packet) {
      // Defence in depth: nothing of another device ever reaches a device.
      return packet.topic.startsWith(`${deviceTopicFor(client.id, options.door).split('/').slice(0, 3).join('/')}/`)
        ? packet
        : null;
    },
  };
}

export async function startMqttBroker(options: MqttBrokerOptions): Promise<RunningBroker> {
  const log: BrokerLog = options.log ?? (() => undefined);
  const broker = await Aedes.createBroker({ ...policyHooks(options, log), connectTimeout: 10_000 });
  const { cert, key } = options.ca.serverCredentials();
  const server = tls.createServer(
    {
      cert,
      key,
      ca: [options.ca.caCertificatePem],
      requestCert: true,
      // Checked at CONNECT instead, so a device without a valid certificate gets an MQTT code and a log line.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (socket) => broker.handle(socket),
  );
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (error, socket) =>
    log({ level: 'WARN', message: 'refused', action: 'tls', reason: error.message, remote: socket.remoteAddress }),
  );
  broker.on('clientError', (client, error) =>
    log({ level: 'INFO', message: 'client connection closed', clientId: client.id, reason: error.message }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `mqtts://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    caCertificatePath: options.ca.caCertificatePath,
    connectedClients: () => broker.connectedClients,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    },
  };
}
