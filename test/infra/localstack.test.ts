/**
 * The `localstack` target: same pipeline, no VPC and no RDS; the database is the compose file's
 * PostgreSQL, credentials still in Secrets Manager. Also runs the bundled migrations handler
 * (the artifact the deploy ships) against a real PostgreSQL server.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '#infra/constructs/schema-migrations.js';
import { LOCALSTACK } from '#infra/localstack.js';
import { PROJECT_ROOT } from '#infra/pipeline-stack.js';
import { FUNCTION_WIRING } from '#infra/wiring.js';
import { type FunctionId, topology } from '#topology.js';
import { functionBundles, logicalId, nagFindings, resourcesOfType, type Synthesized, synthesize } from './synth.js';
import { assertTopologyParity } from './topology-parity.js';

let s: Synthesized;
const fnIds = Object.keys(topology.functions) as FunctionId[];

beforeAll(() => {
  s = synthesize({ context: { target: 'localstack' } });
}, 180_000);

afterAll(() => rmSync(s.outdir, { recursive: true, force: true }));

describe('localstack target', () => {
  it('has no VPC, no RDS and no proxy', () => {
    for (const type of [
      'AWS::EC2::VPC',
      'AWS::RDS::DBInstance',
      'AWS::RDS::DBProxy',
      'AWS::EC2::VPCEndpoint',
      'AWS::EC2::SecurityGroup',
    ]) {
      expect(resourcesOfType(s, type), type).toHaveLength(0);
    }
  });

  it('carries every topology value into the template, exactly as on AWS', () => {
    assertTopologyParity(s);
  });

  it('leaves no unacknowledged cdk-nag finding', () => {
    expect(nagFindings(s.app)).toEqual([]);
  });

  it('keeps the compose PostgreSQL password out of the template: a NoEcho parameter feeds the admin secret', () => {
    expect(s.json.Parameters?.DbAdminPassword).toMatchObject({ Type: 'String', NoEcho: true });
    const admin = resourcesOfType(s, 'AWS::SecretsManager::Secret').find(
      ([id]) => id === logicalId(s.stack, s.stack.database.adminSecret),
    );
    const value = JSON.stringify(admin?.[1].SecretString);
    expect(value).toContain('"Ref":"DbAdminPassword"');
    expect(value).toContain(`\\"host\\":\\"${LOCALSTACK.postgresService}\\"`);
    expect(value).toContain(`\\"dbname\\":\\"${LOCALSTACK.databaseName}\\"`);
  });

  it('generates per-function user secrets pointing at the compose PostgreSQL service', () => {
    const generated = resourcesOfType(s, 'AWS::SecretsManager::Secret').filter(([, p]) => p.GenerateSecretString);
    expect(generated.length).toBe(fnIds.filter((f) => FUNCTION_WIRING[f].databaseRole !== undefined).length);
    for (const [, p] of generated) {
      const template = JSON.parse(
        (p.GenerateSecretString as { SecretStringTemplate: string }).SecretStringTemplate,
      ) as Record<string, unknown>;
      expect(template).toMatchObject({
        host: LOCALSTACK.postgresService,
        port: LOCALSTACK.postgresPort,
        dbname: LOCALSTACK.databaseName,
      });
      expect(template.username).toMatch(/^iot_[a-z_]+$/);
      expect(template).not.toHaveProperty('password');
    }
  });

  it('tells database functions to skip TLS and where Secrets Manager is on the Docker network', () => {
    for (const fid of fnIds.filter((f) => FUNCTION_WIRING[f].databaseRole !== undefined)) {
      const env = (
        resourcesOfType(s, 'AWS::Lambda::Function').find(
          ([id]) => id === logicalId(s.stack, s.stack.functions[fid].function),
        )?.[1].Environment as { Variables: Record<string, unknown> }
      ).Variables;
      expect(env.DB_SSL, fid).toBe('false');
      expect(env.SECRETS_MANAGER_ENDPOINT, fid).toBe(`http://${LOCALSTACK.localstackService}:4566`);
      expect(env.DB_SECRET_ARN, fid).toBeDefined();
    }
  });

  it('runs the bundled migrations handler against a real PostgreSQL: applies every migration, then nothing', async () => {
    const bundle = functionBundles(s).find(
      (b) => b.logicalId === logicalId(s.stack, s.stack.migrations.handler.function),
    );
    expect(bundle).toBeDefined();
    const adminUrl = inject('pgAdminUrl');
    const name = `cdk_migrations_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const previous = process.env.DATABASE_URL;
    process.env.DATABASE_URL = url.toString();
    try {
      const mod = (await import(pathToFileURL(path.join(bundle?.dir ?? '', 'index.mjs')).href)) as {
        handler: (event: unknown) => Promise<{ PhysicalResourceId: string; Data: { Applied: string } }>;
      };
      const event = { RequestType: 'Create', ResourceProperties: { ServiceToken: 'arn', Users: [] } };
      const first = await mod.handler(event);
      const sqlFiles = readdirSync(path.join(PROJECT_ROOT, MIGRATIONS_FOLDER)).filter((f) => f.endsWith('.sql'));
      expect(first.Data.Applied.split(',')).toHaveLength(sqlFiles.length);
      expect(first.Data.Applied).toMatch(/pipeline-schema/);
      const again = await mod.handler({
        ...event,
        RequestType: 'Update',
        PhysicalResourceId: first.PhysicalResourceId,
      });
      expect(again.Data.Applied).toBe('');
      expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);
      const check = new pg.Client({ connectionString: url.toString() });
      await check.connect();
      const { rows } = await check.query<{ n: string }>(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('sensor_readings','sensor_errors','sensor_aggregations')",
      );
      await check.end();
      expect(Number(rows[0]?.n)).toBe(3);
      const deleted = await mod.handler({
        ...event,
        RequestType: 'Delete',
        PhysicalResourceId: first.PhysicalResourceId,
      });
      expect(deleted.PhysicalResourceId).toBe(first.PhysicalResourceId);
    } finally {
      if (previous === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = previous;
    }
  });
});
