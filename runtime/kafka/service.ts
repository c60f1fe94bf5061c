/**
 * `npm start -- --kafka BOOTSTRAP [--kafka-topic TOPIC]`: the Kafka door of the embedded stack, a
 * service beside it (runtime/service.ts) that runs the topology's Kafka source
 * (runtime/host/kafka-source.ts) against the given brokers, invoking the bridge function through
 * the local Lambda host as a Kafka event source mapping invokes it on AWS. Its status line shows
 * the consumer group's lag.
 */
import { KafkaEventSource } from '#runtime/host/kafka-source.js';
import type { StackService } from '#runtime/service.js';

export function kafkaDoor(options: { readonly bootstrap: string; readonly topic: string | undefined }): StackService {
  return {
    name: `the Kafka source (${options.bootstrap})`,
    start: async (ctx) => {
      const spec = ctx.topology.kafkaSources[0];
      if (!spec) throw new Error('the topology has no Kafka source');
      const fn = ctx.host.functions.get(spec.function);
      if (!fn) throw new Error(`the Lambda host runs no ${spec.function} function`);
      const topic = options.topic ?? spec.topic;
      const queueUrl = spec.onFailure === 'failures' ? ctx.endpoints.failuresQueueUrl : ctx.endpoints.errorsQueueUrl;
      const source = new KafkaEventSource({
        settings: spec,
        brokers: options.bootstrap.split(','),
        topic,
        consumerGroupId: spec.consumerGroupId,
        sqs: ctx.sqs,
        onFailureQueueUrl: queueUrl,
        target: {
          functionName: ctx.topology.functions[spec.function].name,
          functionArn: fn.functionArn,
          invoke: (event) => ctx.host.invoke(spec.function, event),
        },
        log: ctx.log,
      });
      await source.start();
      return {
        endpoints: { kafkaBootstrapServers: options.bootstrap, kafkaTopic: topic },
        statusLines: () => [kafkaStatusLine(source)],
        // The group's lag in records per partition; Kafka offsets carry no arrival time to age.
        shardGauges: () =>
          source
            .status()
            .partitions.map((p) => ({ shardId: `kafka ${topic}/${p.partition}`, lagMs: null, pending: p.lag })),
        stop: () => source.stop(),
      };
    },
  };
}

/** `kafka        iot_sensor_data lag 0 (p0 0, p1 0, …)   in 1,200   retried 0   given up 0`. */
export function kafkaStatusLine(source: KafkaEventSource): string {
  const s = source.status();
  const parts = s.partitions.map((p) => `p${p.partition} ${p.lag}`).join(', ');
  const lag = s.lagReadAt === undefined ? 'lag ?' : `lag ${s.lag.toLocaleString('en-US')}${parts ? ` (${parts})` : ''}`;
  const { received, failedInvocations, recordsGivenUp } = source.stats;
  return `  kafka        ${s.topic} ${lag}   in ${received.toLocaleString('en-US')}   failed invocations ${failedInvocations}   given up ${recordsGivenUp}`;
}
