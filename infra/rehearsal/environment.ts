/**
 * A function's environment in the rehearsal: the template's variables with every reference
 * resolved to the embedded stack's real names, URLs and ARNs, plus what the platform itself gives
 * a function. On the `localstack` target that platform is LocalStack, which starts every function
 * with `AWS_ENDPOINT_URL` pointing at itself; here each service has its own emulator, so the
 * rehearsal sets the SDK's per-service form (`AWS_ENDPOINT_URL_KINESIS`, ...) instead.
 *
 * Template values that name LocalStack's endpoint on its Docker network
 * (`http://localstack:4566`) are mapped to the emulator of the service their variable is for; a
 * variable the mapping does not know fails the rehearsal rather than reaching a function that
 * would then call a host that does not exist here.
 */

import type { CfnTemplate } from '../checks/template.js';
import { LOCALSTACK } from '../localstack.js';
import { type References, resolveValue } from './intrinsics.js';
import type { TemplateFunction } from './template-to-host.js';

const ACCOUNT = '000000000000';

/** The embedded stack's side of every reference a function's environment can hold. */
export interface StackSide {
  readonly region: string;
  readonly streamName: string;
  /** Queue URLs by queue name (the template's QueueName), dead-letter queues included. */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly secretArn: (logicalId: string) => string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly endpoints: { readonly kinesis: string; readonly sqs: string; readonly secretsManager: string };
}

/** Variables whose LocalStack endpoint value is mapped to one emulator. */
const ENDPOINT_VARIABLES: Readonly<Record<string, keyof StackSide['endpoints']>> = {
  SECRETS_MANAGER_ENDPOINT: 'secretsManager',
  KINESIS_ENDPOINT: 'kinesis',
  SQS_ENDPOINT: 'sqs',
};

export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/** `Ref` and `Fn::GetAtt` against the embedded stack (CloudFormation's return values per type). */
export function stackReferences(template: CfnTemplate, side: StackSide, where: string): References {
  const resource = (id: string) => {
    const r = template.Resources[id];
    if (!r) throw new EnvironmentError(`${where}: references ${id}, which is not in the template`);
    return { type: r.Type, p: (r.Properties ?? {}) as Record<string, unknown> };
  };
  const queueUrl = (id: string, name: string): string => {
    const url = side.queueUrls[name];
    if (!url) throw new EnvironmentError(`${where}: queue ${id} (${name}) does not exist in the embedded stack`);
    return url;
  };
  return {
    ref: (id) => {
      if (id === 'AWS::Region') return side.region;
      if (id === 'AWS::AccountId') return ACCOUNT;
      if (id === 'AWS::Partition') return 'aws';
      const parameter = side.parameters[id];
      if (parameter !== undefined) return parameter;
      const { type, p } = resource(id);
      if (type === 'AWS::Kinesis::Stream') return side.streamName;
      if (type === 'AWS::SQS::Queue') return queueUrl(id, String(p.QueueName ?? id));
      if (type === 'AWS::SecretsManager::Secret') return side.secretArn(id);
      if (type === 'AWS::Lambda::Function') return String(p.FunctionName ?? id);
      // The topic is created on fauxqs under the template's name (end-to-end.ts), reached through AWS_ENDPOINT_URL_SNS.
      if (type === 'AWS::SNS::Topic') return `arn:aws:sns:${side.region}:${ACCOUNT}:${String(p.TopicName ?? id)}`;
      throw new EnvironmentError(`${where}: Ref ${id} (${type}) has no counterpart in the embedded stack`);
    },
    getAtt: (id, attribute) => {
      const { type, p } = resource(id);
      if (attribute !== 'Arn') throw new EnvironmentError(`${where}: Fn::GetAtt ${id}.${attribute} is not rehearsed`);
      if (type === 'AWS::Lambda::Function')
        return `arn:aws:lambda:${side.region}:${ACCOUNT}:function:${String(p.FunctionName ?? id)}`;
      if (type === 'AWS::SQS::Queue') return `arn:aws:sqs:${side.region}:${ACCOUNT}:${String(p.QueueName ?? id)}`;
      if (type === 'AWS::Kinesis::Stream') return `arn:aws:kinesis:${side.region}:${ACCOUNT}:stream/${side.streamName}`;
      throw new EnvironmentError(`${where}: Fn::GetAtt ${id}.Arn (${type}) has no counterpart in the embedded stack`);
    },
  };
}

/** What the Lambda runtime sets from the function's configuration (the host adds the rest). */
function runtimeVariables(fn: TemplateFunction): Record<string, string> {
  return {
    LAMBDA_TASK_ROOT: fn.assetDir ?? '',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: fn.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(fn.timeoutSeconds),
  };
}

/** The function's whole environment for the rehearsal. */
export function rehearsalEnvironment(
  template: CfnTemplate,
  fn: TemplateFunction,
  side: StackSide,
): Record<string, string> {
  const refs = stackReferences(template, side, fn.functionName);
  const env: Record<string, string> = {
    ...runtimeVariables(fn),
    // LocalStack's AWS_ENDPOINT_URL, split per service (the SDK reads AWS_ENDPOINT_URL_<SERVICE ID>).
    // Any other service (CloudWatch for the API's gauges, say) reaches the stand-in, which records
    // the call and refuses it: nothing a function does leaves this machine.
    AWS_ENDPOINT_URL: side.endpoints.secretsManager,
    AWS_ENDPOINT_URL_KINESIS: side.endpoints.kinesis,
    AWS_ENDPOINT_URL_SQS: side.endpoints.sqs,
    // fauxqs serves SNS beside SQS: the aggregator publishes reading alerts to the template's topic there.
    AWS_ENDPOINT_URL_SNS: side.endpoints.sqs,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: side.endpoints.secretsManager,
  };
  for (const [name, raw] of Object.entries(fn.variables)) {
    const value = resolveValue(raw, refs);
    if (value.startsWith(LOCALSTACK.endpoint)) {
      const service = ENDPOINT_VARIABLES[name];
      if (!service)
        throw new EnvironmentError(
          `${fn.functionName}: ${name}=${value} names LocalStack, but the rehearsal cannot tell which service it is for`,
        );
      env[name] = side.endpoints[service] + value.slice(LOCALSTACK.endpoint.length);
    } else env[name] = value;
  }
  return env;
}
