/**
 * The query API's front door on AWS: an API Gateway REST API (v1: LocalStack's free tier has it,
 * HTTP APIs are Pro there) whose every method and path is a Lambda proxy integration onto the
 * `api` function, which does its own routing, bearer-token authorization and validation (the same
 * Hono app `npm start` serves). API Gateway adds what the function cannot: stage-wide throttling
 * (429 before the function or the database sees the request) and JSON access logs.
 *
 * Access and execution logs need API Gateway's account-wide CloudWatch Logs role (one per account
 * and region). CDK's own `cloudWatchRole` attaches the AWS managed policy (every log action on
 * every resource); this one is an inline policy on log groups only, and it is kept when the stack
 * is destroyed, because other APIs of the account may rely on the account setting that names it.
 */
import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { retentionDays } from './pipeline-function.js';

export interface QueryApiProps {
  readonly restApiName: string;
  readonly stageName: string;
  readonly handler: lambda.IFunction;
  /** Steady requests per second for the whole stage. */
  readonly throttleRateLimit: number;
  /** Burst above the steady rate. */
  readonly throttleBurstLimit: number;
  /** Create the account-wide CloudWatch Logs role (see the module comment). */
  readonly accountLogRole: boolean;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/** The log actions API Gateway's account role needs (those of AmazonAPIGatewayPushToCloudWatchLogs). */
export const API_GATEWAY_LOG_ACTIONS = [
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:DescribeLogGroups',
  'logs:DescribeLogStreams',
  'logs:PutLogEvents',
  'logs:GetLogEvents',
  'logs:FilterLogEvents',
] as const;

/**
 * One JSON object per request. No header is logged (the bearer token travels in one) and no
 * query string (a cursor may be long; the path and the status say what happened).
 */
function accessLogFormat(): apigw.AccessLogFormat {
  const f = apigw.AccessLogField;
  return apigw.AccessLogFormat.custom(
    JSON.stringify({
      requestId: f.contextRequestId(),
      requestTime: f.contextRequestTime(),
      ip: f.contextIdentitySourceIp(),
      userAgent: f.contextIdentityUserAgent(),
      method: f.contextHttpMethod(),
      path: f.contextPath(),
      resourcePath: f.contextResourcePath(),
      protocol: f.contextProtocol(),
      status: f.contextStatus(),
      responseLength: f.contextResponseLength(),
      responseLatencyMs: f.contextResponseLatency(),
      integrationLatencyMs: f.contextIntegrationLatency(),
      integrationStatus: f.contextIntegrationStatus(),
      error: f.contextErrorMessage(),
      errorType: f.contextErrorResponseType(),
    }),
  );
}

export class QueryApi extends Construct {
  readonly api: apigw.LambdaRestApi;
  readonly accessLogs: logs.LogGroup;
  /** API Gateway's account-wide log role, when this stack sets it. */
  readonly accountRole: iam.Role | undefined;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: retentionDays(props.logRetentionDays),
      removalPolicy: props.removalPolicy,
    });
    this.api = new apigw.LambdaRestApi(this, 'Api', {
      restApiName: props.restApiName,
      description: 'IoT First query API and dashboard: every path proxied to the api function',
      handler: props.handler,
      proxy: true,
      // One permission per method for the stage only; the console's test button is not needed.
      integrationOptions: { allowTestInvoke: false },
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      // The dashboard's images travel base64-encoded from the function (hono/aws-lambda).
      binaryMediaTypes: ['image/*'],
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: accessLogFormat(),
        // Execution logs for errors only, never request or response bodies (tokens, readings).
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
    });
    this.accountRole = props.accountLogRole ? this.createAccountRole() : undefined;
  }

  /** The stage's URL: `https://<id>.execute-api.<region>.amazonaws.com/<stage>/`. */
  get url(): string {
    return this.api.url;
  }

  private createAccountRole(): iam.Role {
    // Pseudo-parameters, not the stack's resolved env: the cdk-nag acknowledgement names this
    // resource, and `cdk synth` (which knows the account and region) must render it as the tests do.
    const { PARTITION: partition, REGION: region, ACCOUNT_ID: account } = Aws;
    const role = new iam.Role(this, 'AccountLogRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: "API Gateway's account-wide role for access and execution logs (log groups only)",
      inlinePolicies: {
        logs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: [...API_GATEWAY_LOG_ACTIONS],
              resources: [`arn:${partition}:logs:${region}:${account}:log-group:*`],
            }),
          ],
        }),
      },
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const setting = new apigw.CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
    setting.applyRemovalPolicy(RemovalPolicy.RETAIN);
    // A stage with access logs is refused until the account names a log role.
    this.api.deploymentStage.node.addDependency(setting);
    return role;
  }
}
