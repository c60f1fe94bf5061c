/**
 * AWS SDK clients, configured once per Lambda container (module scope in the handlers).
 *
 * On AWS the SDK's defaults are right. Against a local endpoint (kinesalite, fauxqs, the
 * embedded Lambda host, LocalStack) two things differ: kinesalite speaks HTTP/1.1 only, so the
 * Kinesis client must not negotiate HTTP/2, and the emulators accept any credentials, so a
 * machine without an AWS profile still works.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface ClientOptions {
  readonly region: string;
  /** Custom endpoint (emulator or LocalStack); undefined means the real AWS endpoint. */
  readonly endpoint?: string | undefined;
}

/** Credentials the emulators accept; used only when an endpoint is set and none are configured. */
const EMULATOR_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function hasConfiguredCredentials(): boolean {
  return Boolean(
    process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE || process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
  );
}

function localSettings(options: ClientOptions) {
  if (!options.endpoint) return { region: options.region };
  return {
    region: options.region,
    endpoint: options.endpoint,
    // Keep-alive sockets: the local Lambda host calls these clients thousands of times a minute.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
    ...(hasConfiguredCredentials() ? {} : { credentials: EMULATOR_CREDENTIALS }),
  };
}

export function createKinesisClient(options: ClientOptions): KinesisClient {
  return new KinesisClient({ ...localSettings(options), maxAttempts: 3 });
}

export function createSqsClient(options: ClientOptions): SQSClient {
  return new SQSClient({ ...localSettings(options), maxAttempts: 3 });
}

export function createCloudWatchClient(options: ClientOptions): CloudWatchClient {
  return new CloudWatchClient({ ...localSettings(options), maxAttempts: 3 });
}

/**
 * The alert topic's client. Short timeouts on every target: a topic that cannot be reached (an
 * emulator that is down, a VPC without the `sns` endpoint, where a connection hangs instead of
 * being refused) fails the publish in seconds, and the aggregator keeps its events for the next
 * run, instead of spending its whole timeout on a socket.
 */
export function createSnsClient(options: ClientOptions): SNSClient {
  return new SNSClient({
    ...localSettings(options),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000 }),
    // The publisher retries failed entries itself (src/adapters/sns/alert-publisher.ts).
    maxAttempts: 1,
  });
}
