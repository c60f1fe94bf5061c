/**
 * Custom resource that brings the database schema up to date during `cdk deploy`.
 *
 * It calls the same `migrate()` the tests and the embedded stack use, so a deployed database
 * has exactly the schema the test suite proved. node-pg-migrate's advisory lock and
 * `pgmigrations` table make a re-run (stack update, retried deploy) a no-op.
 *
 * It then creates one login user per function and makes it a member of the group role for the
 * function's duty (GROUP_ROLES in infra/database-roles.ts, created by the migrations), so a
 * compromised validator cannot, say, delete aggregations. Each user's password lives only in
 * its own Secrets Manager secret; this function reads it and sets it, and never logs it.
 *
 * Invoked through the CDK provider framework, which handles the CloudFormation response and
 * timeouts; this handler only returns or throws.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type pg from 'pg';
import { z } from 'zod';
import { createPool, databaseSourceFromEnv } from '#adapters/postgres/pool.js';
import { migrate } from '#db/migrate.js';
import { GROUP_ROLES } from '../database-roles.js';

/** The SQL files are copied beside the bundle by the function's afterBundling hook. */
const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Only the known group roles are accepted; anything else in the event is refused. */
const userSpec = z.object({ SecretArn: z.string().min(1), GroupRole: z.enum(GROUP_ROLES) });
const properties = z.object({ Users: z.array(userSpec).default([]) });
const userSecret = z.object({ username: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/), password: z.string().min(16) });

export interface MigrationResult {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly Applied: string; readonly Users: string };
}

const PHYSICAL_ID = 'iot-first-schema';

/** Creates or updates one login user; the password is sent as an escaped literal, never logged. */
async function ensureUser(client: pg.ClientBase, username: string, password: string, groupRole: string): Promise<void> {
  const user = client.escapeIdentifier(username);
  await client.query(`DO $$ BEGIN CREATE ROLE ${user} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await client.query(`ALTER ROLE ${user} WITH LOGIN INHERIT PASSWORD ${client.escapeLiteral(password)}`);
  await client.query(`GRANT ${client.escapeIdentifier(groupRole)} TO ${user}`);
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<MigrationResult> {
  // The schema outlives the stack's custom resource on purpose: deleting the resource (stack
  // destroy, or a replacement) must never drop tables full of readings.
  if (event.RequestType === 'Delete') {
    return { PhysicalResourceId: event.PhysicalResourceId, Data: { Applied: '', Users: '' } };
  }
  const { Users: users } = properties.parse(event.ResourceProperties);
  const source = databaseSourceFromEnv();
  const secrets = new SecretsManagerClient(
    source.kind === 'secret'
      ? { region: source.region, ...(source.endpoint ? { endpoint: source.endpoint } : {}) }
      : {},
  );
  const pool = await createPool(source, { max: 1, statementTimeoutMs: 0 });
  try {
    const client = await pool.connect();
    try {
      const applied = await migrate({ database: client, dir: MIGRATIONS_DIR, log: (m) => console.log(m) });
      const created: string[] = [];
      for (const spec of users) {
        const out = await secrets.send(new GetSecretValueCommand({ SecretId: spec.SecretArn }));
        const parsed = userSecret.safeParse(parseWithoutEcho(out.SecretString));
        if (!parsed.success) throw new Error(`Secret ${spec.SecretArn} lacks a valid username or password`);
        // Granting a group role to itself fails in PostgreSQL, and making the group role itself a
        // login role would hand its password to every future member: refuse with the reason.
        if (parsed.data.username === spec.GroupRole)
          throw new Error(`Secret ${spec.SecretArn}: login user ${parsed.data.username} has its group role's name`);
        await ensureUser(client, parsed.data.username, parsed.data.password, spec.GroupRole);
        created.push(`${parsed.data.username}:${spec.GroupRole}`);
      }
      console.log(JSON.stringify({ message: 'schema up to date', applied, users: created }));
      return { PhysicalResourceId: PHYSICAL_ID, Data: { Applied: applied.join(','), Users: created.join(',') } };
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

/** JSON.parse's SyntaxError quotes the input; a secret must never reach a log or a stack event. */
function parseWithoutEcho(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '{}');
  } catch {
    return undefined;
  }
}
