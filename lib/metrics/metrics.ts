/**
 * The only file with metric names. Prometheus conventions: `tributary_` prefix,
 * base units, `_total` counters. The registry is always injected, never the global one.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The metrics of one running pipeline, registered on the given registry. */
export interface PipelineMetrics {
  readonly registry: Registry;
  /** Records entering a step. Labels: pipeline, step. */
  recordsIn: Counter<'pipeline' | 'step'>;
  /** Records leaving a step, by stream (`events` for pass-through, else the named output). */
  recordsOut: Counter<'pipeline' | 'step' | 'stream'>;
  /** Records a step consumed without passing them on, by reason (`duplicate`, `filtered`, …). */
  recordsDropped: Counter<'pipeline' | 'step' | 'reason'>;
  /** Outcomes a step counts that are not drops (e.g. `suppressed-cooldown`), by name. */
  stepOutcomes: Counter<'pipeline' | 'step' | 'outcome'>;
  /** Input records read from the source. */
  sourceRecords: Counter<'pipeline'>;
  /** Records sent to the dead-letter output, by reason. */
  deadLetters: Counter<'pipeline' | 'reason'>;
  /** Events older than the watermark, sent to the late output. */
  lateRecords: Counter<'pipeline'>;
  /** Records written per output stream. */
  streamRecords: Counter<'pipeline' | 'stream'>;
  /** Current event-time watermark of a task, seconds since epoch (absent until the first event). */
  watermark: Gauge<'pipeline' | 'task'>;
  /** Processing time minus a task's watermark, seconds. */
  watermarkLag: Gauge<'pipeline' | 'task'>;
  /** Time to process one input record through all steps, seconds (every 64th record is timed). */
  processingLatency: Histogram<'pipeline'>;
  /** Event time → emit on the `events` stream, seconds (processing-time clock minus event time; every 64th record). */
  endToEndLatency: Histogram<'pipeline'>;
  /** Checkpoints (state flush + source position) taken. */
  commits: Counter<'pipeline'>;
  commitLatency: Histogram<'pipeline'>;
  /** Entries in a state store of a task. */
  storeEntries: Gauge<'pipeline' | 'task' | 'store'>;
  /** Bytes a state store of a task takes in its LMDB file (pages of its B-tree). */
  storeBytes: Gauge<'pipeline' | 'task' | 'store'>;
  /** Reads, writes and deletes of a state store, as the operators make them (the caching layer counts). */
  storeOperations: Counter<'pipeline' | 'store' | 'operation'>;
  /** Kafka: records of an input partition not yet processed (high watermark − next offset). */
  consumerLag: Gauge<'pipeline' | 'topic' | 'partition'>;
  /** Kafka: input partitions assigned to this instance. */
  assignedPartitions: Gauge<'pipeline'>;
  /** Kafka: assignments that changed what this instance holds. */
  rebalances: Counter<'pipeline'>;
  /** Kafka: changed keys whose value was too large for a changelog record (kept locally only). */
  changelogOversized: Counter<'pipeline' | 'store'>;
  /** Kafka: changelog records applied while restoring a task's store. */
  restoredRecords: Counter<'pipeline' | 'task' | 'store'>;
  /** Kafka: changelog records still to apply before a task's store is restored (0 when done). */
  restoreRemaining: Gauge<'pipeline' | 'task' | 'store'>;
  /** 1 when the run is ready (Kafka: every assigned task restored and processing; embedded: running), else 0. */
  ready: Gauge<'pipeline'>;
  /** Trigger records emitted, by rule. */
  triggersFired: Counter<'pipeline' | 'step' | 'rule'>;
  /** Trigger candidates not emitted, by rule and reason (`cooldown`, `cap`, `consent`, …). */
  triggersSuppressed: Counter<'pipeline' | 'step' | 'rule' | 'reason'>;
  /** Data quality: source records rejected before the steps (undecodable, invalid, no key), by source and reason. */
  sourceInvalid: Counter<'pipeline' | 'source' | 'reason'>;
  /** Data quality: valid source events without a value for a configured identifier or key field. */
  missingFields: Counter<'pipeline' | 'field'>;
  /** Data quality: the greatest event time seen, seconds since epoch (freshness = time() − this). */
  lastEventTime: Gauge<'pipeline'>;
}

const LATENCY_BUCKETS = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1];

/**
 * Creates and registers the pipeline metrics.
 *
 * @example
 * ```ts
 * const metrics = createMetrics(new Registry());
 * metrics.recordsIn.inc({ pipeline: 'p', step: 'dedupe' });
 * ```
 */
export function createMetrics(registry: Registry = new Registry()): PipelineMetrics {
  const r = [registry];
  // Every counter hands its tallies to prom-client when it is read (a scrape, the run summary).
  const collect = function (this: Counter<string>) {
    drainTallies(this);
  };
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers: r, collect });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers: r });
  return {
    registry,
    recordsIn: counter('tributary_step_records_in_total', 'Records entering a step', ['pipeline', 'step']),
    recordsOut: counter('tributary_step_records_out_total', 'Records leaving a step, by stream', ['pipeline', 'step', 'stream']),
    recordsDropped: counter('tributary_step_records_dropped_total', 'Records a step consumed without passing them on, by reason (duplicate, filtered, processing-error, ...)', ['pipeline', 'step', 'reason']),
    stepOutcomes: counter('tributary_step_outcomes_total', 'Outcomes a step counts that are not drops (suppressed triggers, refused links), by name', ['pipeline', 'step', 'outcome']),
    sourceRecords: counter('tributary_source_records_total', 'Input records read', ['pipeline']),
    deadLetters: counter('tributary_dead_letter_records_total', 'Records sent to the dead-letter output, by reason', ['pipeline', 'reason']),
    lateRecords: counter('tributary_late_records_total', 'Events older than the watermark, sent to the late output', ['pipeline']),
    streamRecords: counter('tributary_output_records_total', 'Records written per output stream (Kafka: counted once encoded for their topic, so a record dead-lettered there, e.g. over kafka.maxMessageBytes, counts as a dead letter only)', ['pipeline', 'stream']),
    watermark: gauge('tributary_watermark_seconds', 'Current event-time watermark of a task (seconds since epoch)', ['pipeline', 'task']),
    watermarkLag: gauge('tributary_watermark_lag_seconds', 'Processing time minus the watermark of a task', ['pipeline', 'task']),
    processingLatency: new Histogram({ name: 'tributary_processing_latency_seconds', help: 'Time to process one input record through all steps (every 64th record)', labelNames: ['pipeline'], buckets: LATENCY_BUCKETS, registers: r }),
    endToEndLatency: new Histogram({ name: 'tributary_end_to_end_latency_seconds', help: 'Event time to emit on the events stream (every 64th event)', labelNames: ['pipeline'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300], registers: r }),
    commits: counter('tributary_commits_total', 'Checkpoints taken (state flushed with the source position)', ['pipeline']),
    commitLatency: new Histogram({ name: 'tributary_commit_latency_seconds', help: 'Checkpoint (commit) duration', labelNames: ['pipeline'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: r }),
    storeEntries: gauge('tributary_store_entries', 'Entries in a state store of a task (at its last checkpoint)', ['pipeline', 'task', 'store']),
    storeBytes: gauge('tributary_store_bytes', 'Bytes a state store of a task takes in its LMDB file (at its last checkpoint)', ['pipeline', 'task', 'store']),
    storeOperations: counter('tributary_store_operations_total', 'State store reads, writes and deletes made by the operators', ['pipeline', 'store', 'operation']),
    consumerLag: gauge('tributary_consumer_lag_records', 'Kafka: records of an input partition not yet processed', ['pipeline', 'topic', 'partition']),
    assignedPartitions: gauge('tributary_assigned_partitions', 'Kafka: input partitions assigned to this instance', ['pipeline']),
    rebalances: counter('tributary_rebalances_total', 'Kafka: group assignments that changed what this instance holds', ['pipeline']),
    changelogOversized: counter('tributary_changelog_oversized_total', 'Kafka: changed keys whose value was larger than a Kafka message: kept in the local state, not in the changelog', ['pipeline', 'store']),
    restoredRecords: counter('tributary_restore_records_total', 'Kafka: changelog records applied restoring a store', ['pipeline', 'task', 'store']),
    restoreRemaining: gauge('tributary_restore_remaining_records', 'Kafka: changelog records still to apply before a store is restored', ['pipeline', 'task', 'store']),
    ready: gauge('tributary_ready', '1 when the run is ready (Kafka: assigned tasks restored and processing; embedded: running)', ['pipeline']),
    triggersFired: counter('tributary_triggers_fired_total', 'Trigger records emitted, by rule', ['pipeline', 'step', 'rule']),
    triggersSuppressed: counter('tributary_triggers_suppressed_total', 'Trigger candidates not emitted, by rule and reason', ['pipeline', 'step', 'rule', 'reason']),
    sourceInvalid: counter('tributary_source_invalid_records_total', 'Data quality: source records rejected before the steps, by source and reason', ['pipeline', 'source', 'reason']),
    missingFields: counter('tributary_source_missing_field_total', 'Data quality: valid events without a value for a configured identifier or key field', ['pipeline', 'field']),
    lastEventTime: gauge('tributary_last_event_time_seconds', 'Data quality: greatest event time seen (freshness = time() - this)', ['pipeline']),
  };
}

/** Reads a counter's value per label set, e.g. for the run summary. */
export async function counterValues(counter: Counter<string>): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const m = await counter.get();
  return m.values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

/** A counter child incremented with a plain addition: see {@link tally}. */
export interface Tally {
  inc(): void;
}

class PendingTally implements Tally {
  n = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(): void {
    this.n++;
  }
}

const tallies = new WeakMap<object, PendingTally[]>();

/**
 * A counter child for the per-record path: `inc()` is an addition (prom-client's `inc` costs
 * ~0.25 µs with its label lookup), and the sum reaches the counter when prom-client collects it
 * (a `/metrics` scrape, {@link counterValues}), for counters made by {@link createMetrics}.
 * Make one per label set and keep it.
 *
 * @example
 * ```ts
 * const seen = tally(metrics.sourceRecords, { pipeline: 'p' });
 * seen.inc();
 * await counterValues(metrics.sourceRecords); // [{ labels: { pipeline: 'p' }, value: 1 }]
 * ```
 */
export function tally<L extends string>(counter: Counter<L>, labels: Record<L, string>): Tally {
  const t = new PendingTally(labels);
  let list = tallies.get(counter);
  if (list === undefined) tallies.set(counter, (list = []));
  list.push(t);
  return t;
}

function drainTallies(counter: Counter<string>): void {
  const list = tallies.get(counter);
  if (list === undefined) return;
  for (const t of list) {
    if (t.n === 0) continue;
    counter.inc(t.labels, t.n);
    t.n = 0;
  }
}
