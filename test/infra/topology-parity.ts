/**
 * Proves a synthesized template carries the topology's values (DESIGN.md section 6): every
 * event-source setting, every queue, function and stream setting, every schedule. Each value is
 * read from the same `topology` object the embedded Lambda host (runtime/) reads.
 */
import { expect } from 'vitest';
import { type FunctionId, type QueueId, rateExpression, topology } from '#topology.js';
import { logicalId, resourcesOfType, type Synthesized } from './synth.js';

type Props = Record<string, unknown>;

function getAtt(id: string, attr: string) {
  return { 'Fn::GetAtt': [id, attr] };
}

export function assertTopologyParity(s: Synthesized): void {
  const { stack } = s;
  const fnId = (f: FunctionId) => logicalId(stack, stack.functions[f].function);
  const queueId = (q: QueueId) => logicalId(stack, stack.queues[q]);
  const streamId = logicalId(stack, stack.stream);
  const mappings = resourcesOfType(s, 'AWS::Lambda::EventSourceMapping').map(([, p]) => p);
  const mappingsOf = (fid: FunctionId) =>
    mappings.filter((p) => JSON.stringify(p.FunctionName) === JSON.stringify({ Ref: fnId(fid) }));

  // Stream.
  s.template.hasResourceProperties('AWS::Kinesis::Stream', {
    Name: topology.stream.name,
    ShardCount: topology.stream.shardCount,
    RetentionPeriodHours: topology.stream.retentionHours,
  });

  // Kinesis event sources: every setting the embedded host applies.
  expect(topology.kinesisSources.length).toBeGreaterThan(0);
  const kinesisMappings = mappings.filter(
    (p) => JSON.stringify(p.EventSourceArn) === JSON.stringify(getAtt(streamId, 'Arn')),
  );
  expect(kinesisMappings).toHaveLength(topology.kinesisSources.length);
  for (const src of topology.kinesisSources) {
    const [m, ...rest] = mappingsOf(src.function).filter((p) => kinesisMappings.includes(p));
    expect(rest).toHaveLength(0);
    expect(m, `Kinesis mapping of ${src.function}`).toBeDefined();
    const p = m as Props;
    expect(p.BatchSize).toBe(src.batchSize);
    expect(p.MaximumBatchingWindowInSeconds).toBe(src.maxBatchingWindowSeconds);
    expect(p.ParallelizationFactor).toBe(src.parallelizationFactor);
    expect(p.BisectBatchOnFunctionError).toBe(src.bisectBatchOnError);
    expect(p.MaximumRetryAttempts).toBe(src.retryAttempts);
    expect(p.MaximumRecordAgeInSeconds).toBe(src.maxRecordAgeSeconds);
    expect(p.StartingPosition).toBe(src.startingPosition);
    expect(p.FunctionResponseTypes ?? []).toEqual(src.reportBatchItemFailures ? ['ReportBatchItemFailures'] : []);
    expect(p.DestinationConfig).toEqual({ OnFailure: { Destination: getAtt(queueId(src.onFailure), 'Arn') } });
  }

  // SQS event sources.
  for (const src of topology.sqsSources) {
    const found = mappingsOf(src.function).filter(
      (p) => JSON.stringify(p.EventSourceArn) === JSON.stringify(getAtt(queueId(src.queue), 'Arn')),
    );
    expect(found, `SQS mapping ${src.queue} -> ${src.function}`).toHaveLength(1);
    const p = found[0] as Props;
    expect(p.BatchSize).toBe(src.batchSize);
    expect(p.MaximumBatchingWindowInSeconds ?? 0).toBe(src.maxBatchingWindowSeconds);
    expect(p.FunctionResponseTypes ?? []).toEqual(src.reportBatchItemFailures ? ['ReportBatchItemFailures'] : []);
  }
  expect(mappings).toHaveLength(topology.kinesisSources.length + topology.sqsSources.length);

  // Queues and their redrive DLQs.
  for (const [qid, spec] of Object.entries(topology.queues) as [QueueId, (typeof topology.queues)[QueueId]][]) {
    const q = s.json.Resources[queueId(qid)]?.Properties as Props;
    expect(q.QueueName).toBe(spec.name);
    expect(q.VisibilityTimeout).toBe(spec.visibilityTimeoutSeconds);
    expect(q.MessageRetentionPeriod).toBe(spec.retentionSeconds);
    const dlqId = logicalId(stack, stack.deadLetterQueues[qid]);
    expect(q.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(dlqId, 'Arn'),
      maxReceiveCount: spec.maxReceiveCount,
    });
    expect((s.json.Resources[dlqId]?.Properties as Props).QueueName).toBe(spec.deadLetterQueueName);
  }

  // Functions.
  for (const [fid, spec] of Object.entries(topology.functions) as [
    FunctionId,
    (typeof topology.functions)[FunctionId],
  ][]) {
    const p = s.json.Resources[fnId(fid)]?.Properties as Props;
    expect(p.FunctionName).toBe(`${stack.stackName}-${spec.name}`);
    expect(p.MemorySize).toBe(spec.memoryMb);
    expect(p.Timeout).toBe(spec.timeoutSeconds);
    expect(p.Description).toBe(spec.description);
  }

  // Schedules: one rule per schedule, with the topology's rate, targeting its function.
  const rules = resourcesOfType(s, 'AWS::Events::Rule').map(([, p]) => p);
  expect(rules).toHaveLength(topology.schedules.length);
  for (const schedule of topology.schedules) {
    const rule = rules.find(
      (r) =>
        r.ScheduleExpression === rateExpression(schedule) &&
        JSON.stringify(r.Targets).includes(JSON.stringify(getAtt(fnId(schedule.function), 'Arn'))),
    );
    expect(rule, `schedule of ${schedule.function}`).toBeDefined();
    expect((rule as Props).State ?? 'ENABLED').toBe('ENABLED');
  }

  // The payload cap the validator and drainer classify with.
  for (const fid of ['validator', 'dlqDrainer'] as const) {
    const env = (
      (s.json.Resources[fnId(fid)]?.Properties as Props).Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(env.PAYLOAD_CAP_BYTES).toBe(String(topology.payloadCapBytes));
  }
}
