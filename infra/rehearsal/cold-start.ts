/**
 * Cold-start rehearsal of the deployed artifacts: for every `AWS::Lambda::Function` of a
 * synthesized template, start the built asset from the cloud assembly (not the TypeScript
 * source) the way the Node.js Lambda runtime does: resolve the template's `Handler` string to a
 * file of the asset and an export, import it in a fresh Node process whose environment is the
 * template's (intrinsics resolved to stand-in values of the right shape) plus what Lambda sets,
 * and require that export to be a function.
 *
 * Handlers validate their configuration at import, so this catches what source-level tests
 * cannot: a dependency esbuild left out, an ESM/CommonJS mismatch, a file read at start that the
 * bundle lacks, an environment variable the template names differently from the code.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CfnTemplate, isRecord, type TemplateResource } from '../checks/template.js';
import { resolveValue } from './intrinsics.js';

/** Stand-ins for what only a deployment knows. */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const PSEUDO: Record<string, string> = {
  'AWS::AccountId': ACCOUNT,
  'AWS::Region': REGION,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'IotFirst',
};

export interface ColdStart {
  readonly logicalId: string;
  readonly functionName: string;
  readonly handler: string;
  readonly runtime: string;
  readonly ok: boolean;
  /** Why it failed (the child's stderr, trimmed), or warnings worth reading. */
  readonly detail: string;
  readonly ms: number;
}

/** A reference resolved to a value of the shape the deployed one has (a URL for a queue, ...). */
function refValue(template: CfnTemplate, id: string): string {
  const pseudo = PSEUDO[id];
  if (pseudo) return pseudo;
  const r = template.Resources[id];
  const props = (r?.Properties ?? {}) as Record<string, unknown>;
  switch (r?.Type) {
    case 'AWS::SQS::Queue':
      return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${String(props.QueueName ?? id)}`;
    case 'AWS::Kinesis::Stream':
      return String(props.Name ?? id);
    case 'AWS::SecretsManager::Secret':
      return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`;
    case 'AWS::Lambda::Function':
      return String(props.FunctionName ?? id);
    // A topic's Ref is its ARN (the aggregator validates ALERT_TOPIC_ARN at its cold start).
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${String(props.TopicName ?? id)}`;
    default:
      return template.Parameters?.[id] ? `parameter-${id}` : id;
  }
}

/** `Fn::GetAtt` of the stand-ins: ARNs of the right service, other attributes by name. */
export function standInArn(template: CfnTemplate, id: string, attribute: string): string {
  const r = template.Resources[id];
  if (attribute === 'Arn') {
    const service = (r?.Type ?? 'AWS::X::Y').split('::')[1]?.toLowerCase();
    return `arn:aws:${service}:${REGION}:${ACCOUNT}:${id}`;
  }
  return `${id}.${attribute}`;
}

/** Resolves intrinsics to plain strings, as CloudFormation would with the stand-ins above. */
export function resolveStandIn(template: CfnTemplate, value: unknown): string {
  return resolveValue(value, {
    ref: (id) => refValue(template, id),
    getAtt: (id, attribute) => standInArn(template, id, attribute),
  });
}

/** The asset folder of a function: `Code.S3Key` is `<hash>.zip`, the folder `asset.<hash>`. */
export function assetDir(outdir: string, fn: TemplateResource): string | undefined {
  const code = (fn.Properties?.Code ?? {}) as Record<string, unknown>;
  const key = code.S3Key;
  if (typeof key !== 'string' || !key.endsWith('.zip')) return undefined;
  const dir = path.join(outdir, `asset.${key.slice(0, -'.zip'.length)}`);
  return existsSync(dir) ? dir : undefined;
}

/** The Node.js runtime's resolution of `file.export`: file.mjs, file.js, file.cjs in the task root. */
export function handlerFile(dir: string, handler: string): { file: string; exportName: string } | undefined {
  const dot = handler.lastIndexOf('.');
  const base = handler.slice(0, dot);
  const exportName = handler.slice(dot + 1);
  for (const ext of ['.mjs', '.js', '.cjs']) {
    const file = path.join(dir, `${base}${ext}`);
    if (existsSync(file)) return { file, exportName };
  }
  return undefined;
}

/** The variables Lambda sets itself (the template may not set them: value-rules.ts checks). */
function lambdaVariables(name: string, memory: unknown, dir: string, handler: string): Record<string, string> {
  return {
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memory ?? 128),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_EXECUTION_ENV: 'AWS_Lambda_rehearsal',
    LAMBDA_TASK_ROOT: dir,
    _HANDLER: handler,
    AWS_ACCESS_KEY_ID: 'rehearsal',
    AWS_SECRET_ACCESS_KEY: 'rehearsal',
    TZ: 'UTC',
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  };
}

const IMPORT_SCRIPT = `
const [file, name] = process.argv.slice(1);
const mod = await import(require('node:url').pathToFileURL(file).href);
if (typeof mod[name] !== 'function') { console.error('export ' + name + ' is ' + typeof mod[name]); process.exit(3); }
process.exit(0);`;

function runImport(
  file: string,
  exportName: string,
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);${IMPORT_SCRIPT}`,
        file,
        exportName,
      ],
      { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stderr });
    });
  });
}

/**
 * The Node.js Lambda runtimes ship the AWS SDK v3 (`@aws-sdk/*`) for CommonJS `require`; CDK's
 * own provider-framework asset relies on it (the rehearsal's first run found that). A folder
 * holding only that scope, linked to the project's copy, stands in for it on NODE_PATH; our ESM
 * bundles never see NODE_PATH, so a dependency they lack still fails.
 */
function runtimeProvidedModules(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iot-first-runtime-sdk-'));
  mkdirSync(path.join(dir, 'node_modules'));
  const sdk = path.resolve('node_modules/@aws-sdk');
  if (existsSync(sdk)) symlinkSync(sdk, path.join(dir, 'node_modules/@aws-sdk'), 'dir');
  return dir;
}

/** The Lambda runtime's CA bundle is named by the template and absent off Lambda: not a finding. */
const EXPECTED_WARNING = /Ignoring extra certs from `\/var\/runtime\/ca-cert\.pem`/;

/** What went wrong: the error's own lines, without the stack frames and Node's banner. */
function firstError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l && !l.startsWith('at ') && !l.startsWith('Node.js v') && !l.startsWith('^') && !EXPECTED_WARNING.test(l),
    );
  const start = lines.findIndex((l) => /Error\b|Cannot find/.test(l));
  return lines
    .slice(Math.max(0, start), Math.max(0, start) + 6)
    .join(' ')
    .slice(0, 600);
}

/** Cold-starts every function of the template from its built asset. */
export async function coldStartAll(template: CfnTemplate, outdir: string): Promise<ColdStart[]> {
  const sdkDir = runtimeProvidedModules();
  try {
    return await coldStartEach(template, outdir, path.join(sdkDir, 'node_modules'));
  } finally {
    rmSync(sdkDir, { recursive: true, force: true });
  }
}

async function coldStartEach(template: CfnTemplate, outdir: string, nodePath: string): Promise<ColdStart[]> {
  const out: ColdStart[] = [];
  for (const [id, fn] of Object.entries(template.Resources)) {
    if (fn.Type !== 'AWS::Lambda::Function') continue;
    const p = (fn.Properties ?? {}) as Record<string, unknown>;
    const name = typeof p.FunctionName === 'string' ? p.FunctionName : id;
    const handler = String(p.Handler ?? '');
    const runtime = String(p.Runtime ?? '');
    const started = Date.now();
    const result = (ok: boolean, detail: string): ColdStart => ({
      logicalId: id,
      functionName: name,
      handler,
      runtime,
      ok,
      detail,
      ms: Date.now() - started,
    });
    const dir = assetDir(outdir, fn);
    if (!dir) {
      // Inline code (ZipFile) or a prebuilt asset of CDK's own (the provider framework): not ours to rehearse.
      out.push(result(true, 'skipped: not a bundled asset of this project'));
      continue;
    }
    const target = handlerFile(dir, handler);
    if (!target) {
      out.push(result(false, `handler ${handler}: no ${handler.split('.')[0]}.mjs/.js/.cjs in the asset`));
      continue;
    }
    const variables = isRecord(p.Environment) && isRecord(p.Environment.Variables) ? p.Environment.Variables : {};
    const env: Record<string, string> = { ...lambdaVariables(name, p.MemorySize, dir, handler), NODE_PATH: nodePath };
    for (const [k, v] of Object.entries(variables)) env[k] = resolveStandIn(template, v);
    const { code, stderr } = await runImport(target.file, target.exportName, env, dir);
    const warnings = stderr
      .split('\n')
      .filter((l) => /warning/i.test(l) && !EXPECTED_WARNING.test(l))
      .join(' ')
      .trim();
    const error = code === 0 ? '' : firstError(stderr);
    const runtimeSdk = /Cannot find (module|package) '(@aws-sdk\/[^'/]+)/.exec(error);
    if (runtimeSdk) {
      // The Lambda runtime ships the whole SDK v3; this machine has only the clients we use.
      out.push(
        result(true, `relies on the Lambda runtime's ${runtimeSdk[2]} (not installed here; checked up to that import)`),
      );
      continue;
    }
    out.push(code === 0 ? result(true, warnings) : result(false, error));
  }
  return out;
}
