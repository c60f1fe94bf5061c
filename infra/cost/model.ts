/**
 * Monthly cost of running the stack on AWS at a given rate of readings, from the topology (shards,
 * batch sizes, parallelization, schedules, function memory), the wiring (which functions hold a
 * database user, which alarms exist) and the unit prices and workload figures in prices.json.
 *
 * Pure arithmetic: no AWS call, no CDK synth. `npm run cost` prints it; test/unit/cost-model.test.ts
 * checks it against a case computed by hand.
 */
import type { FunctionId, Topology } from '#topology.js';

/** A month as AWS bills it: 730 hours. */
export const HOURS_PER_MONTH = 730;
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
/** One shard takes 1 MiB/s or 1,000 records/s, whichever comes first. */
const SHARD_RECORDS_PER_SECOND = 1000;
const SHARD_BYTES_PER_SECOND = 1024 * 1024;
const PUT_PAYLOAD_UNIT_BYTES = 25 * 1024;
/** Shards are sized to run at most this share of their limits, so bursts are not throttled. */
export const SHARD_TARGET_UTILIZATION = 0.8;

export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly confirmed: boolean;
}

export interface RdsInstancePrice {
  readonly class: string;
  readonly usd: number;
  readonly vcpu: number;
  readonly maxReadingsPerSecond: number;
}

export interface Workload {
  readonly readingBytes: number;
  readonly secondsBetweenReadingsPerSensor: number;
  readonly validatorCpuMsPer500: number;
  readonly validatorDatabaseMsPer500: number;
  readonly validatorFixedMs: number;
  readonly cpuReferenceMemoryMb: number;
  readonly aggregatorMsPerWindow: number;
  readonly aggregatorFixedMs: number;
  readonly drainerMsPerMessage: number;
  readonly rejectionsPerQueueMessage: number;
  readonly dqRunMs: number;
  readonly defaultFunctionMs: number;
  readonly storedBytesPerValidRow: number;
  readonly storedBytesPerErrorRow: number;
  readonly logBytesPerInvocation: number;
  readonly sqsIdlePollRequestsPerSourcePerMonth: number;
  readonly customMetrics: number;
  readonly secretsApiCallsPerContainerHour: number;
  readonly endpointGbPerMillionReadings: number;
  readonly availabilityZones: number;
  /** Requests to the query API a month (an assumption: see prices.json). */
  readonly apiRequestsPerMonth: number;
  readonly apiMsPerRequest: number;
  /** Messages on the alert topic a month (alarm and OK transitions, reading alerts), each also e-mailed. */
  readonly alertsPerMonth: number;
}

export interface PriceBook {
  readonly region: string;
  readonly read: string;
  readonly prices: Readonly<Record<PriceKey, Price>>;
  readonly rdsInstances: readonly RdsInstancePrice[];
  readonly workload: Workload;
}

export type PriceKey =
  | 'kinesisShardHour'
  | 'kinesisPutPayloadUnitsPerMillion'
  | 'lambdaRequestsPerMillion'
  | 'lambdaArmGbSecond'
  | 'sqsRequestsPerMillion'
  | 'rdsGp3GbMonth'
  | 'rdsProxyVcpuHour'
  | 'interfaceEndpointAzHour'
  | 'interfaceEndpointGb'
  | 'logsIngestGb'
  | 'logsStorageGbMonth'
  | 'metricMonth'
  | 'alarmMonth'
  | 'dashboardMonth'
  | 'secretMonth'
  | 'secretsApiPer10k'
  | 'apiGatewayRestPerMillion'
  | 'snsPublishesPerMillion'
  | 'snsEmailPer100k'
  | 'kmsKeyMonth'
  | 'kmsRequestsPer10k'
  | 'apiGatewayHttpPerMillion'
  | 'iotMessagesPerMillion'
  | 'iotRuleActionsPerMillion';

/** What the stack is made of, as far as cost goes (derived from the topology and the wiring). */
export interface StackShape {
  readonly topology: Topology;
  /** Functions holding a database user (their secrets, their VPC containers). */
  readonly databaseFunctions: readonly FunctionId[];
  readonly alarms: number;
  readonly interfaceEndpoints: number;
}

export interface CostOptions {
  readonly readingsPerSecond: number;
  /** Share of readings rejected by validation (default: the producer's fault mix, 0.37). */
  readonly rejectShare: number;
  readonly rdsProxy?: boolean;
  readonly multiAz?: boolean;
  /** Log retention in days (default 30, as the stack's default). */
  readonly logRetentionDays?: number;
  /** Query API requests a month (default: the workload's assumption in prices.json). */
  readonly apiRequestsPerMonth?: number;
}

export interface CostLine {
  readonly item: string;
  readonly usd: number;
  readonly detail: string;
}

export interface FunctionUsage {
  readonly fn: FunctionId;
  readonly memoryMb: number;
  readonly invocations: number;
  readonly msPerInvocation: number;
  readonly gbSeconds: number;
}

export interface CostEstimate {
  /** Shards the rate needs. */
  readonly shardsNeeded: number;
  /** Shards billed: what the rate needs, or the topology's shard count if that is more. */
  readonly shards: number;
  readonly rdsInstance: RdsInstancePrice;
  readonly functions: readonly FunctionUsage[];
  readonly lines: readonly CostLine[];
  readonly total: number;
  /** Lines sorted by cost, largest first. */
  readonly dominant: readonly CostLine[];
}

/** Shards the rate needs at 80% of a shard's limits: by record count or by bytes, at least one. */
export function shardsFor(readingsPerSecond: number, readingBytes: number): number {
  const byRecords = readingsPerSecond / (SHARD_RECORDS_PER_SECOND * SHARD_TARGET_UTILIZATION);
  const byBytes = (readingsPerSecond * readingBytes) / (SHARD_BYTES_PER_SECOND * SHARD_TARGET_UTILIZATION);
  return Math.max(1, Math.ceil(Math.max(byRecords, byBytes)));
}

/** The smallest instance class the workload table says keeps up with the rate. */
export function instanceFor(readingsPerSecond: number, ladder: readonly RdsInstancePrice[]): RdsInstancePrice {
  const sorted = [...ladder].sort((a, b) => a.maxReadingsPerSecond - b.maxReadingsPerSecond);
  const fit = sorted.find((i) => i.maxReadingsPerSecond >= readingsPerSecond) ?? sorted[sorted.length - 1];
  if (!fit) throw new Error('prices.json lists no RDS instance class');
  return fit;
}

/** Invocations per month and duration of each function, from the trigger that starts it. */
export function functionUsage(shape: StackShape, book: PriceBook, opts: CostOptions, shards: number): FunctionUsage[] {
  const { topology } = shape;
  const w = book.workload;
  const rate = opts.readingsPerSecond;
  const rejectsPerSecond = rate * opts.rejectShare;
  const sensors = rate * w.secondsBetweenReadingsPerSensor;
  return (Object.keys(topology.functions) as FunctionId[]).map((fn) => {
    const memoryMb = topology.functions[fn].memoryMb;
    const cpuScale = w.cpuReferenceMemoryMb / memoryMb;
    let perSecond = 0;
    let ms = w.defaultFunctionMs;
    const kinesis = topology.kinesisSources.find((s) => s.function === fn);
    const sqs = topology.sqsSources.filter((s) => s.function === fn);
    const schedule = topology.schedules.find((s) => s.function === fn);
    const api = topology.httpApis.find((a) => a.function === fn);
    if (kinesis) {
      // Each lane (shard × parallelization) is polled about once a second; a full batch goes at once.
      const lanes = shards * kinesis.parallelizationFactor;
      perSecond = rate > 0 ? Math.max(lanes, rate / kinesis.batchSize) : 0;
      const records = perSecond > 0 ? rate / perSecond : 0;
      ms =
        w.validatorFixedMs +
        (records / 500) * (w.validatorCpuMsPer500 * Math.max(1, cpuScale) + w.validatorDatabaseMsPer500);
    } else if (sqs.length > 0) {
      // Rejections are packed many per message; one message per validator batch at least.
      // Each validator batch with rejections sends ceil(rejections / per-message) messages; the
      // drainer takes them one invocation each (no batching window), which bounds the cost above.
      const validator = topology.kinesisSources[0];
      const batches = validator ? Math.max(shards * validator.parallelizationFactor, rate / validator.batchSize) : 0;
      perSecond =
        rejectsPerSecond > 0 && batches > 0
          ? batches * Math.ceil(rejectsPerSecond / batches / w.rejectionsPerQueueMessage)
          : 0;
      ms = w.drainerMsPerMessage;
    } else if (schedule) {
      perSecond = 1 / (schedule.everyMinutes * 60);
      ms =
        fn === 'aggregator'
          ? w.aggregatorFixedMs + w.aggregatorMsPerWindow * sensors * (schedule.everyMinutes + 1)
          : w.dqRunMs;
    } else if (api) {
      // One invocation per API request (a Lambda proxy integration, no caching in front).
      perSecond = (opts.apiRequestsPerMonth ?? w.apiRequestsPerMonth) / SECONDS_PER_MONTH;
      ms = w.apiMsPerRequest;
    } else {
      // A function nothing in the topology triggers (the producer simulates devices): not billed here.
      perSecond = 0;
    }
    const invocations = perSecond * SECONDS_PER_MONTH;
    const billedMs = Math.ceil(ms);
    return {
      fn,
      memoryMb,
      invocations,
      msPerInvocation: billedMs,
      gbSeconds: invocations * (billedMs / 1000) * (memoryMb / 1024),
    };
  });
}

function usd(book: PriceBook, key: PriceKey): number {
  return book.prices[key].usd;
}

/** The whole estimate: one line per kind of charge. */
export function estimateCost(shape: StackShape, book: PriceBook, opts: CostOptions): CostEstimate {
  const w = book.workload;
  const rate = opts.readingsPerSecond;
  const readingsPerMonth = rate * SECONDS_PER_MONTH;
  const shardsNeeded = shardsFor(rate, w.readingBytes);
  const shards = Math.max(shardsNeeded, shape.topology.stream.shardCount);
  const fns = functionUsage(shape, book, opts, shards);
  const instance = instanceFor(rate, book.rdsInstances);
  const invocations = fns.reduce((s, f) => s + f.invocations, 0);
  const gbSeconds = fns.reduce((s, f) => s + f.gbSeconds, 0);
  const drainer = fns.filter((f) => shape.topology.sqsSources.some((s) => s.function === f.fn));
  const queueMessages = drainer.reduce((s, f) => s + f.invocations, 0);
  const storedGb =
    (readingsPerMonth *
      ((1 - opts.rejectShare) * w.storedBytesPerValidRow + opts.rejectShare * w.storedBytesPerErrorRow)) /
    1e9;
  const logGb = (invocations * w.logBytesPerInvocation) / 1e9;
  const retentionMonths = (opts.logRetentionDays ?? 30) / 30;
  const secrets = 1 + shape.databaseFunctions.length;
  const lines: CostLine[] = [
    {
      item: 'Kinesis shards',
      usd: shards * HOURS_PER_MONTH * usd(book, 'kinesisShardHour'),
      detail: `${shards} shard(s) × ${HOURS_PER_MONTH} h`,
    },
    {
      item: 'Kinesis PUT payload units',
      usd:
        ((readingsPerMonth * Math.ceil(w.readingBytes / PUT_PAYLOAD_UNIT_BYTES)) / 1e6) *
        usd(book, 'kinesisPutPayloadUnitsPerMillion'),
      detail: `${fmt(readingsPerMonth / 1e6)} M records of ${w.readingBytes} B, 1 unit each`,
    },
    {
      item: 'Lambda requests',
      usd: (invocations / 1e6) * usd(book, 'lambdaRequestsPerMillion'),
      detail: `${fmt(invocations / 1e6)} M invocations`,
    },
    {
      item: 'Lambda compute (arm64)',
      usd: gbSeconds * usd(book, 'lambdaArmGbSecond'),
      detail: `${fmt(gbSeconds)} GB-s`,
    },
    {
      item: 'SQS requests',
      usd:
        ((queueMessages * 3 + shape.topology.sqsSources.length * w.sqsIdlePollRequestsPerSourcePerMonth) / 1e6) *
        usd(book, 'sqsRequestsPerMillion'),
      detail: `${fmt(queueMessages / 1e6)} M messages × (send, receive, delete) + idle long polls of ${shape.topology.sqsSources.length} sources`,
    },
    {
      item: `RDS ${instance.class}${opts.multiAz ? ' multi-AZ' : ''}`,
      usd: instance.usd * HOURS_PER_MONTH * (opts.multiAz ? 2 : 1),
      detail: `${HOURS_PER_MONTH} h; class chosen for ${rate}/s from prices.json`,
    },
    {
      item: 'RDS storage (gp3)',
      usd: Math.max(20, storedGb) * usd(book, 'rdsGp3GbMonth') * (opts.multiAz ? 2 : 1),
      detail: `${fmt(storedGb)} GB after the first month (at least the 20 GB allocated); grows as much every month: no retention policy yet`,
    },
    {
      item: 'RDS Proxy',
      usd: opts.rdsProxy ? Math.max(2, instance.vcpu) * HOURS_PER_MONTH * usd(book, 'rdsProxyVcpuHour') : 0,
      detail: opts.rdsProxy ? `${Math.max(2, instance.vcpu)} vCPU × ${HOURS_PER_MONTH} h` : 'off (-c rdsProxy=true)',
    },
    {
      item: 'VPC interface endpoints',
      usd:
        shape.interfaceEndpoints * w.availabilityZones * HOURS_PER_MONTH * usd(book, 'interfaceEndpointAzHour') +
        (readingsPerMonth / 1e6) * w.endpointGbPerMillionReadings * usd(book, 'interfaceEndpointGb'),
      detail: `${shape.interfaceEndpoints} endpoints × ${w.availabilityZones} AZs × ${HOURS_PER_MONTH} h + data`,
    },
    {
      item: 'CloudWatch Logs',
      usd: logGb * usd(book, 'logsIngestGb') + logGb * retentionMonths * usd(book, 'logsStorageGbMonth'),
      detail: `${fmt(logGb)} GB ingested, kept ${opts.logRetentionDays ?? 30} days`,
    },
    {
      item: 'CloudWatch metrics, alarms, dashboard',
      usd:
        w.customMetrics * usd(book, 'metricMonth') +
        shape.alarms * usd(book, 'alarmMonth') +
        usd(book, 'dashboardMonth'),
      detail: `${w.customMetrics} custom metrics, ${shape.alarms} alarms, 1 dashboard`,
    },
    {
      item: 'Secrets Manager',
      usd:
        secrets * usd(book, 'secretMonth') +
        ((shape.databaseFunctions.length * w.secretsApiCallsPerContainerHour * HOURS_PER_MONTH * Math.max(1, shards)) /
          1e4) *
          usd(book, 'secretsApiPer10k'),
      detail: `${secrets} secrets + reads every 5 minutes per warm container`,
    },
  ];
  lines.push(...doorLines(shape, book, opts));
  const total = lines.reduce((s, l) => s + l.usd, 0);
  const dominant = [...lines].sort((a, b) => b.usd - a.usd);
  return { shardsNeeded, shards, rdsInstance: instance, functions: fns, lines, total, dominant };
}

/** The query API's requests and the alert topic (its key, publishes, e-mails). */
function doorLines(shape: StackShape, book: PriceBook, opts: CostOptions): CostLine[] {
  const w = book.workload;
  const apiRequests = shape.topology.httpApis.length > 0 ? (opts.apiRequestsPerMonth ?? w.apiRequestsPerMonth) : 0;
  // At most one KMS request per publish to the encrypted topic: an upper bound.
  const alerts = w.alertsPerMonth;
  return [
    {
      item: 'API Gateway (REST) requests',
      usd: (apiRequests / 1e6) * usd(book, 'apiGatewayRestPerMillion'),
      detail: `${fmt(apiRequests / 1e6)} M requests (the api function's invocations are in the Lambda lines)`,
    },
    {
      item: 'Alert topic (KMS key, SNS)',
      usd:
        usd(book, 'kmsKeyMonth') +
        (alerts / 1e4) * usd(book, 'kmsRequestsPer10k') +
        (alerts / 1e6) * usd(book, 'snsPublishesPerMillion') +
        (alerts / 1e5) * usd(book, 'snsEmailPer100k'),
      detail: `1 customer key; ${fmt(alerts)} alerts published and e-mailed`,
    },
  ];
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}
