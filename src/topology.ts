/**
 * The one definition of the pipeline's topology (DESIGN.md section 6).
 *
 * The CDK stack (`infra/`) and the embedded Lambda host (`runtime/`) both read this module, so the
 * event-source semantics a developer sees with `npm start` are the ones AWS applies after
 * `cdk deploy`. A test synthesizes the stack and proves every value below reaches the template.
 *
 * Plain data only: no AWS SDK, no CDK types, so both sides can import it cheaply.
 */

/** Logical function names; also the suffix of the deployed function names. */
export type FunctionId = 'producer' | 'validator' | 'dlqDrainer' | 'aggregator' | 'dq' | 'kafkaBridge' | 'api';

/** Logical queue names. */
export type QueueId = 'errors' | 'failures';

export interface FunctionSpec {
  /** Name of the deployed function (prefixed by the stack on AWS). */
  readonly name: string;
  /** Handler module relative to the project root; its `handler` export is the entry point. */
  readonly entry: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Why this function exists, for humans reading the console or the template. */
  readonly description: string;
}

export interface QueueSpec {
  readonly name: string;
  /** Must be at least six times the consuming function's timeout (AWS's own guidance). */
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  /** Messages received this many times without being deleted move to the queue's own DLQ. */
  readonly maxReceiveCount: number;
  readonly deadLetterQueueName: string;
}

export interface KinesisSourceSpec {
  readonly function: FunctionId;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Concurrent batches per shard; order is kept per partition key (sensor), as on AWS. */
  readonly parallelizationFactor: number;
  readonly bisectBatchOnError: boolean;
  /** Retries after the first attempt; -1 would mean "until the record expires". */
  readonly retryAttempts: number;
  readonly maxRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Queue that receives a notice naming the shard and sequence range of a batch given up on. */
  readonly onFailure: QueueId;
}

export interface SqsSourceSpec {
  readonly function: FunctionId;
  readonly queue: QueueId;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
}

export interface ScheduleSpec {
  readonly function: FunctionId;
  /** Rate in minutes; rendered as an EventBridge `rate(...)` expression by {@link rateExpression}. */
  readonly everyMinutes: number;
  readonly description: string;
}

/**
 * The Kafka door: a Kafka event source mapping (MSK or self-managed on AWS, a consumer group on
 * any broker with `npm start -- --kafka`) onto the bridge, with the Kinesis source's error rules.
 */
export interface KafkaSourceSpec {
  readonly function: FunctionId;
  /** The default topic (the original's); a deployment or `--kafka-topic` may name another. */
  readonly topic: string;
  readonly consumerGroupId: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly bisectBatchOnError: boolean;
  /** Retries after the first attempt; -1 would mean "until the record expires". */
  readonly retryAttempts: number;
  /** 60 to 604800, or -1 for no limit (AWS's range for Kafka). Measured from the Kafka timestamp. */
  readonly maxRecordAgeSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Queue that receives a notice naming the topic-partition and offsets of records given up on. */
  readonly onFailure: QueueId;
}

/**
 * The query API door (issue 10): one HTTP app behind API Gateway's REST API on AWS (a proxy
 * integration: every method and path goes to the function) and `npm start`'s own HTTP server
 * locally (runtime/api-service.ts), which serves the same app.
 */
export interface HttpApiSpec {
  readonly function: FunctionId;
  /** REST API name (prefixed by the stack on AWS). */
  readonly name: string;
  /** API Gateway stage name; the API's URL ends in `/<stage>/`. */
  readonly stageName: string;
}

/**
 * Where alerts go: reading alerts (opened and closed by the aggregator, which publishes them) and
 * the pipeline's alarms. An SNS topic on AWS; locally the same topic on the SQS emulator's SNS
 * side, with a queue the alert notifier consumes (runtime/alert-topic.ts, alert-notifier.ts).
 */
export interface AlertTopicSpec {
  /** Topic name (prefixed by the stack on AWS). */
  readonly name: string;
  readonly displayName: string;
}

export interface Topology {
  readonly stream: { readonly name: string; readonly shardCount: number; readonly retentionHours: number };
  /** Largest accepted reading in bytes; larger records become PAYLOAD_TOO_LARGE errors. */
  readonly payloadCapBytes: number;
  readonly functions: Readonly<Record<FunctionId, FunctionSpec>>;
  readonly queues: Readonly<Record<QueueId, QueueSpec>>;
  readonly kinesisSources: readonly KinesisSourceSpec[];
  readonly sqsSources: readonly SqsSourceSpec[];
  readonly kafkaSources: readonly KafkaSourceSpec[];
  readonly schedules: readonly ScheduleSpec[];
  readonly httpApis: readonly HttpApiSpec[];
  readonly alertTopic: AlertTopicSpec;
}

const DRAINER_TIMEOUT_SECONDS = 30;

export const topology: Topology = {
  stream: { name: 'iot_sensor_data', shardCount: 2, retentionHours: 24 },
  payloadCapBytes: 64 * 1024,
  functions: {
    producer: {
      name: 'iot-producer',
      entry: 'lambdas/producer/handler.ts',
      memoryMb: 256,
      timeoutSeconds: 60,
      description: 'Simulates a fleet of sensors and writes their readings to the stream',
    },
    validator: {
      name: 'iot-validator',
      entry: 'lambdas/validator/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 60,
      description: 'Validates readings; valid rows to PostgreSQL, invalid ones with a reason to the errors queue',
    },
    dlqDrainer: {
      name: 'iot-dlq-drainer',
      entry: 'lambdas/dlq-drainer/handler.ts',
      memoryMb: 256,
      timeoutSeconds: DRAINER_TIMEOUT_SECONDS,
      description: 'Lands error messages and failed-batch notices in PostgreSQL',
    },
    aggregator: {
      name: 'iot-aggregator',
      entry: 'lambdas/aggregator/handler.ts',
      memoryMb: 256,
      timeoutSeconds: 120,
      description: 'Recomputes the 1-minute windows that received readings since its last run',
    },
    kafkaBridge: {
      name: 'iot-kafka-bridge',
      entry: 'lambdas/kafka-bridge/handler.ts',
      memoryMb: 256,
      timeoutSeconds: 60,
      description: 'Forwards Kafka records, bytes unchanged, into the stream with their Kafka origin',
    },
    dq: {
      name: 'iot-dq',
      entry: 'lambdas/dq/handler.ts',
      memoryMb: 256,
      timeoutSeconds: 300,
      description: 'Runs the SodaCL checks in soda/checks and stores each result in dq_check_results',
    },
    api: {
      name: 'iot-api',
      entry: 'lambdas/api/handler.ts',
      memoryMb: 512,
      // API Gateway's integration timeout is 29 s: a longer function would outlive its caller.
      timeoutSeconds: 29,
      description: 'Query API and dashboard (read-only database user), behind API Gateway',
    },
  },
  queues: {
    errors: {
      name: 'iot-sensor-errors',
      visibilityTimeoutSeconds: 6 * DRAINER_TIMEOUT_SECONDS,
      retentionSeconds: 14 * 24 * 3600,
      maxReceiveCount: 5,
      deadLetterQueueName: 'iot-sensor-errors-dlq',
    },
    failures: {
      name: 'iot-ingest-failures',
      visibilityTimeoutSeconds: 6 * DRAINER_TIMEOUT_SECONDS,
      retentionSeconds: 14 * 24 * 3600,
      maxReceiveCount: 5,
      deadLetterQueueName: 'iot-ingest-failures-dlq',
    },
  },
  kinesisSources: [
    {
      function: 'validator',
      batchSize: 500,
      maxBatchingWindowSeconds: 1,
      parallelizationFactor: 2,
      bisectBatchOnError: true,
      retryAttempts: 5,
      maxRecordAgeSeconds: 3600,
      reportBatchItemFailures: true,
      startingPosition: 'TRIM_HORIZON',
      onFailure: 'failures',
    },
  ],
  sqsSources: [
    {
      function: 'dlqDrainer',
      queue: 'errors',
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      reportBatchItemFailures: true,
    },
    {
      function: 'dlqDrainer',
      queue: 'failures',
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      reportBatchItemFailures: true,
    },
  ],
  kafkaSources: [
    {
      function: 'kafkaBridge',
      topic: 'iot_sensor_data',
      consumerGroupId: 'iot-kafka-bridge',
      batchSize: 500,
      maxBatchingWindowSeconds: 0.5,
      bisectBatchOnError: true,
      retryAttempts: 5,
      maxRecordAgeSeconds: 3600,
      reportBatchItemFailures: true,
      startingPosition: 'TRIM_HORIZON',
      onFailure: 'failures',
    },
  ],
  schedules: [
    { function: 'aggregator', everyMinutes: 1, description: 'Recompute 1-minute windows touched since the last run' },
    { function: 'dq', everyMinutes: 5, description: 'Run the data-quality checks and record their outcomes' },
  ],
  httpApis: [{ function: 'api', name: 'iot-api', stageName: 'v1' }],
  alertTopic: { name: 'iot-alerts', displayName: 'IoT First alerts' },
};

/** EventBridge schedule expression for a schedule, e.g. `rate(1 minute)`. */
export function rateExpression(schedule: Pick<ScheduleSpec, 'everyMinutes'>): string {
  const n = schedule.everyMinutes;
  return `rate(${n} ${n === 1 ? 'minute' : 'minutes'})`;
}

/**
 * How many function timeouts a consuming queue's visibility timeout must cover. Lambda does not
 * extend a message's visibility while its batch runs (neither does the embedded host, so it
 * behaves as AWS does); AWS's guidance is six times the function timeout, which also leaves room
 * for Lambda to retry a throttled batch before the messages reappear to another poller.
 */
export const VISIBILITY_PER_FUNCTION_TIMEOUT = 6;

/**
 * The SQS event sources whose queue would make a batch still within its function's timeout
 * visible again (and delivered twice), one sentence each naming the queue, the function and the
 * smallest visibility timeout that fits. Empty when the topology is sound.
 */
export function visibilityProblems(t: Topology): string[] {
  return t.sqsSources.flatMap((source) => {
    const queue = t.queues[source.queue];
    const fn = t.functions[source.function];
    const least = VISIBILITY_PER_FUNCTION_TIMEOUT * fn.timeoutSeconds;
    if (queue.visibilityTimeoutSeconds >= least) return [];
    return [
      `queue ${queue.name} has a visibility timeout of ${queue.visibilityTimeoutSeconds} s, but ${fn.name} reads it with a timeout of ${fn.timeoutSeconds} s: it must be at least ${VISIBILITY_PER_FUNCTION_TIMEOUT} times that (${least} s), or a batch still running is delivered again`,
    ];
  });
}

/**
 * The MQTT door (issue 11, DESIGN.md section 10): devices publish to their own topic on AWS IoT
 * Core (or the local broker), and one topic rule forwards every message on the filter into the
 * stream with the device's identity as partition key. The CDK stack renders the rule and the
 * IoT policy from this entry; the local broker and rule engine (runtime/mqtt) apply the same.
 */
export interface MqttDoorSpec {
  /** The one topic a device may publish to; `{thing}` is its thing name (= sensor_id). */
  readonly deviceTopic: string;
  /** The rule's `FROM` filter: every device topic, nothing else. */
  readonly topicFilter: string;
  /** IoT rule names allow only `[a-zA-Z0-9_]`. */
  readonly ruleName: string;
  /** The IoT policy every device certificate is attached to (thing-name policy variables). */
  readonly policyName: string;
  /**
   * IoT substitution template for the Kinesis partition key: `mqtt:` and the topic's identity
   * level (src/domain/record-origin.ts parses it back). Level 3 because the policy lets a device
   * publish only where level 3 is its own thing name.
   */
  readonly partitionKey: string;
  /** Where a forward that failed goes (the rule's error action), so it still ends as a row. */
  readonly errorDestination: QueueId;
  /** AWS IoT Core's message size limit. */
  readonly maxMessageBytes: number;
  /** Connection attempts one device may make at once, then per second (IoT throttles these). */
  readonly connectBurst: { readonly burst: number; readonly perSecond: number };
}

export const mqttDoor: MqttDoorSpec = {
  deviceTopic: 'iot/sensors/{thing}/readings',
  topicFilter: 'iot/sensors/+/readings',
  ruleName: 'iot_sensor_readings_to_stream',
  policyName: 'iot-first-device',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT substitution template, rendered by IoT (or runtime/mqtt)
  partitionKey: 'mqtt:${topic(3)}',
  errorDestination: 'failures',
  maxMessageBytes: 128 * 1024,
  connectBurst: { burst: 5, perSecond: 1 },
};

/** The topic rule's SQL (IoT SQL version 2016-03-23): every message on the filter, as it is. */
export function mqttRuleSql(door: Pick<MqttDoorSpec, 'topicFilter'> = mqttDoor): string {
  return `SELECT * FROM '${door.topicFilter}'`;
}

/** A device's own topic. */
export function deviceTopicFor(thingName: string, door: Pick<MqttDoorSpec, 'deviceTopic'> = mqttDoor): string {
  return door.deviceTopic.replace('{thing}', thingName);
}
