/**
 * Structured JSON logs and CloudWatch EMF metrics through Powertools for AWS Lambda.
 *
 * Every handler creates its telemetry once per container and sets a correlation id per batch,
 * so all lines of one batch can be found together (CloudWatch Logs Insights, or `grep` on the
 * embedded stack's log files). Nothing here ever logs a payload's secrets: database credentials
 * never reach a log call.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export { MetricUnit };

export const METRICS_NAMESPACE = 'IoTFirst';

export interface Telemetry {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export function createTelemetry(serviceName: string): Telemetry {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
  };
}
