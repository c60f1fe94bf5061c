/**
 * Names shared by `docker-compose.localstack.yml` and the `localstack` target.
 *
 * LocalStack starts each Lambda in its own container on `LAMBDA_DOCKER_NETWORK`; on that network
 * the compose services are reachable by service name. The stack writes these names into the
 * database secret and the function environment, and a test parses the compose file and checks
 * it uses the same ones, so the two files cannot drift apart.
 */
export const LOCALSTACK = {
  /** Docker network LocalStack attaches Lambda containers to (compose `networks:` key and `name:`). */
  network: 'iot-first-localstack',
  /** Compose service (and host name) of LocalStack itself. */
  localstackService: 'localstack',
  /** Compose service (and host name) of PostgreSQL. */
  postgresService: 'postgres',
  postgresPort: 5432,
  databaseName: 'iot',
  /** The container's superuser; its password is `IOT_DB_PASSWORD`, passed to the deploy as a NoEcho parameter. */
  adminUser: 'postgres',
  /**
   * A REST API stage's URL from the host, in LocalStack's documented `execute-api` form (the AWS
   * form, `<id>.execute-api.<region>.amazonaws.com`, does not resolve to LocalStack).
   */
  apiUrl(restApiId: string, stageName: string): string {
    return `http://${restApiId}.execute-api.localhost.localstack.cloud:4566/${stageName}/`;
  },
  /** AWS API endpoint as seen from a Lambda container on the compose network. */
  get endpoint(): string {
    return `http://${this.localstackService}:4566`;
  },
} as const;
