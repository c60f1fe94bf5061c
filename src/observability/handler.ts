/**
 * The skeleton every Lambda handler shares, written once: a correlation id on every log line of
 * an invocation, metrics flushed whatever happens, and, for batch handlers, one account of what
 * is retried. A handler built on it only reads its config, builds its adapters, calls its use
 * case and maps the result.
 *
 * A plain wrapper rather than Powertools' Middy middleware: the project does not use Middy, and
 * the whole skeleton is a try/finally.
 */
import type { Context } from 'aws-lambda';
import { createTelemetry, MetricUnit, type Telemetry } from './telemetry.js';

/** What a handler's body gets for one invocation. */
export interface Invocation extends Telemetry {
  /** Partial or absent when a caller invokes the handler directly (a script, a test). */
  readonly context: Partial<Context> | undefined;
  /** Adds each entry as a Count metric of this invocation. */
  count(counts: Readonly<Record<string, number>>): void;
  /** Replaces the correlation id once the body knows a better one than the event gave. */
  correlate(correlationId: string): void;
}

export interface HandlerSpec<E, R> {
  /** The id that ties this invocation's log lines together; the request id when absent. */
  readonly correlationId?: (event: E) => string | undefined;
  readonly run: (event: E, invocation: Invocation) => Promise<R>;
}

export type LambdaHandler<E, R> = (event: E, context?: Partial<Context>) => Promise<R>;

/** Wraps `spec.run` in the shared telemetry; the telemetry is created once per container. */
export function instrumentedHandler<E, R>(service: string, spec: HandlerSpec<E, R>): LambdaHandler<E, R> {
  const telemetry = createTelemetry(service);
  const { logger, metrics } = telemetry;
  return async (event, context) => {
    const requestId = context?.awsRequestId;
    logger.appendKeys({ correlation_id: spec.correlationId?.(event) ?? requestId, request_id: requestId });
    const invocation: Invocation = {
      ...telemetry,
      context,
      count: (counts) => {
        for (const [name, value] of Object.entries(counts)) metrics.addMetric(name, MetricUnit.Count, value);
      },
      correlate: (correlationId) => logger.appendKeys({ correlation_id: correlationId }),
    };
    try {
      return await spec.run(event, invocation);
    } finally {
      // Nothing stored (an event refused before any work): no flush, so no empty-metrics warning.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      logger.removeKeys(['correlation_id', 'request_id']);
    }
  };
}

/** The partial-batch response Kinesis and SQS event sources both understand. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface BatchHandlerSpec<E> {
  readonly correlationId: (event: E) => string | undefined;
  /** The identifier of every item of the batch: what is retried when the batch fails whole. */
  readonly itemIds: (event: E) => readonly string[];
  /** The Count metric of items handed back for retry, whichever way they failed. */
  readonly retriedMetric: string;
  /** Handles the batch; resolves with the identifiers of the items that must be retried. */
  readonly run: (event: E, invocation: Invocation) => Promise<readonly string[]>;
}

/**
 * A batch handler: items the use case could not make durable are retried, and when the use case
 * throws, every item is. Both paths end in the same count of retried items, so the metric
 * cannot drift from the response.
 */
export function batchHandler<E>(service: string, spec: BatchHandlerSpec<E>): LambdaHandler<E, BatchResponse> {
  return instrumentedHandler(service, {
    correlationId: spec.correlationId,
    run: async (event, invocation) => {
      let retried: readonly string[];
      try {
        retried = await spec.run(event, invocation);
      } catch (error) {
        invocation.logger.error('batch failed; every item will be retried', { error: error as Error });
        retried = spec.itemIds(event);
      }
      invocation.count({ [spec.retriedMetric]: retried.length });
      return { batchItemFailures: retried.map((itemIdentifier) => ({ itemIdentifier })) };
    },
  });
}
