/**
 * Secrets Manager for the rehearsal: the embedded stack has none, and the `localstack` target's
 * functions get their database credentials only from secrets (`DB_SECRET_ARN` plus
 * `SECRETS_MANAGER_ENDPOINT`). This serves `GetSecretValue` over real HTTP in the AWS JSON
 * protocol, so the bundles' own SDK client reads the secrets, with the values CloudFormation
 * would create from the template: `SecretString` with its parameters resolved, or
 * `GenerateSecretString`'s template plus a generated password.
 *
 * A stand-in, not an emulator: it answers only `GetSecretValue`, the one call the bundles make
 * (a bundle calling anything else fails the rehearsal with the operation named).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CfnTemplate, isRecord } from '../checks/template.js';
import { resolveValue } from './intrinsics.js';

export interface StandInSecret {
  readonly logicalId: string;
  readonly arn: string;
  readonly value: Record<string, unknown>;
}

export interface SecretsStandIn {
  readonly url: string;
  /** The ARN `Ref` gives for a secret of the template. */
  arnOf(logicalId: string): string;
  /**
   * Calls other than GetSecretValue the bundles made, Secrets Manager's or (through the
   * `AWS_ENDPOINT_URL` catch-all) another service's; each is refused, so its caller sees a failure.
   */
  readonly unsupported: readonly string[];
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function generatedPassword(length: number): string {
  return [...randomBytes(length)].map((b) => ALPHANUMERIC[b % ALPHANUMERIC.length]).join('');
}

/** One secret's value, as CloudFormation would create it. */
function secretValue(template: CfnTemplate, logicalId: string, parameters: Readonly<Record<string, string>>) {
  const p = template.Resources[logicalId]?.Properties ?? {};
  if (p.SecretString !== undefined) {
    const text = resolveValue(p.SecretString, {
      ref: (id) => {
        const value = parameters[id];
        if (value === undefined) throw new Error(`secret ${logicalId}: no value for parameter ${id}`);
        return value;
      },
      getAtt: (id, attribute) => {
        throw new Error(`secret ${logicalId}: Fn::GetAtt ${id}.${attribute} is not rehearsed`);
      },
    });
    return JSON.parse(text) as Record<string, unknown>;
  }
  const generate = isRecord(p.GenerateSecretString) ? p.GenerateSecretString : {};
  const base = typeof generate.SecretStringTemplate === 'string' ? JSON.parse(generate.SecretStringTemplate) : {};
  const key = typeof generate.GenerateStringKey === 'string' ? generate.GenerateStringKey : 'password';
  return { ...base, [key]: generatedPassword(Number(generate.PasswordLength ?? 32)) } as Record<string, unknown>;
}

/**
 * Every `AWS::SecretsManager::Secret` of the template with its value; `rewrite` plays the
 * network's part (the compose service `postgres:5432` is the embedded server here).
 */
export function secretsOfTemplate(
  template: CfnTemplate,
  parameters: Readonly<Record<string, string>>,
  rewrite: (value: Record<string, unknown>) => Record<string, unknown>,
): StandInSecret[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret')
    .map(([logicalId]) => ({
      logicalId,
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${logicalId}-${generatedPassword(6)}`,
      value: rewrite(secretValue(template, logicalId, parameters)),
    }));
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify(body));
}

export async function startSecretsStandIn(secrets: readonly StandInSecret[]): Promise<SecretsStandIn> {
  const unsupported: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '');
      if (operation !== 'secretsmanager.GetSecretValue') {
        // JSON protocols name the operation in X-Amz-Target; others in the path (CBOR) or the body (query).
        const action = /Action=([A-Za-z]+)/.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
        unsupported.push(operation || `${req.method} ${req.url}${action ? ` ${action}` : ''}`);
        return reply(res, 400, { __type: 'InvalidRequestException', message: `${operation} is not rehearsed` });
      }
      const { SecretId: id } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
      const secret = secrets.find((s) => s.arn === id || s.logicalId === id);
      if (!secret)
        return reply(res, 400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
      reply(res, 200, {
        ARN: secret.arn,
        Name: secret.arn.split(':secret:')[1],
        SecretString: JSON.stringify(secret.value),
        VersionId: 'rehearsal',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    unsupported,
    arnOf: (logicalId) => {
      const s = secrets.find((x) => x.logicalId === logicalId);
      if (!s) throw new Error(`no secret ${logicalId} in the template`);
      return s.arn;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
