/**
 * The cost-relevant shape of the stack, read from the same tables the stack is built from: the
 * topology (functions, sources, schedules, queues) and the wiring (database users, metric alarms).
 */
import { topology as defaultTopology, type FunctionId, type Topology } from '#topology.js';
import { FUNCTION_WIRING } from '../wiring.js';
import type { StackShape } from './model.js';

/** AwsDatabase's interface endpoints: Secrets Manager, SQS, Kinesis, CloudWatch metrics, SNS (infra/constructs/database.ts). */
export const INTERFACE_ENDPOINTS = 5;

export function stackShape(topology: Topology = defaultTopology): StackShape {
  const fns = Object.keys(topology.functions) as FunctionId[];
  const metricAlarms = fns.reduce((n, f) => {
    const w = FUNCTION_WIRING[f];
    return n + (w.metricAlarms?.length ?? 0) + (w.heartbeatAlarms?.length ?? 0) + (w.rejectionRateAlarm ? 1 : 0);
  }, 0);
  // Monitoring: iterator age, one per dead-letter queue, one per on-failure queue, errors and
  // throttles per function, the wiring's metric, heartbeat and rejection-rate alarms, and one
  // 5xx alarm per HTTP API (infra/triggers.ts).
  const alarms =
    1 +
    Object.keys(topology.queues).length +
    topology.kinesisSources.length +
    2 * fns.length +
    metricAlarms +
    topology.httpApis.length;
  return {
    topology,
    databaseFunctions: fns.filter((f) => FUNCTION_WIRING[f].databaseRole !== undefined),
    alarms,
    interfaceEndpoints: INTERFACE_ENDPOINTS,
  };
}
