/**
 * docker-compose.localstack.yml cannot run here (no Docker engine); this proves what can be
 * proved without one: it parses, and it agrees with the names the localstack target writes into
 * its secrets and function environment (infra/localstack.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LOCALSTACK } from '#infra/localstack.js';
import { PROJECT_ROOT } from '#infra/pipeline-stack.js';

interface Service {
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[];
  healthcheck?: { test?: string[] };
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { name?: string }>;
}

const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.localstack.yml'), 'utf8')) as Compose;
const localstack = compose.services[LOCALSTACK.localstackService];
const postgres = compose.services[LOCALSTACK.postgresService];

describe('docker-compose.localstack.yml', () => {
  it('has the LocalStack and PostgreSQL services under the names the stack uses as host names', () => {
    expect(localstack?.image).toMatch(/^localstack\/localstack/);
    expect(postgres?.image).toMatch(/^postgres:\d+/);
  });

  it('names the network LAMBDA_DOCKER_NETWORK points at, the one the localstack target expects, and puts both services on it', () => {
    const entry = Object.entries(compose.networks).find(([, n]) => n.name === LOCALSTACK.network);
    expect(entry, `a network named ${LOCALSTACK.network}`).toBeDefined();
    const key = entry?.[0] ?? '';
    expect(localstack?.environment?.LAMBDA_DOCKER_NETWORK).toBe(LOCALSTACK.network);
    expect(localstack?.networks).toContain(key);
    expect(postgres?.networks).toContain(key);
  });

  it('takes the auth token and the database password from the environment and fails fast when unset', () => {
    expect(localstack?.environment?.LOCALSTACK_AUTH_TOKEN).toMatch(/^\$\{LOCALSTACK_AUTH_TOKEN:\?.+\}$/);
    expect(postgres?.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{IOT_DB_PASSWORD:\?.+\}$/);
  });

  it('creates the database and superuser the admin secret names', () => {
    expect(postgres?.environment?.POSTGRES_DB).toBe(LOCALSTACK.databaseName);
    expect(postgres?.environment?.POSTGRES_USER).toBe(LOCALSTACK.adminUser);
  });

  it('mounts the Docker socket so LocalStack can start Lambda containers', () => {
    expect(localstack?.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
  });

  it('gives both services a health check', () => {
    expect(localstack?.healthcheck?.test?.join(' ')).toContain('/_localstack/health');
    expect(postgres?.healthcheck?.test?.join(' ')).toContain('pg_isready');
  });
});
