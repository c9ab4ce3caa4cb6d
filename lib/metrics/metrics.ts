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
  /** Current event-time watermark, seconds since epoch (absent until the first event). */
  watermark: Gauge<'pipeline'>;
  /** Processing time minus watermark, seconds. */
  watermarkLag: Gauge<'pipeline'>;
  /** Time to process one input record through all steps, seconds (every 64th record is timed). */
  processingLatency: Histogram<'pipeline'>;
  /** Event time → emit on the `events` stream, seconds (processing-time clock minus event time; every 64th record). */
  endToEndLatency: Histogram<'pipeline'>;
  /** Checkpoints (state flush + source position) taken. */
  commits: Counter<'pipeline'>;
  commitLatency: Histogram<'pipeline'>;
  /** Entries in a state store. */
  storeEntries: Gauge<'pipeline' | 'store'>;
}

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
  return {
    registry,
    recordsIn: new Counter({ name: 'tributary_step_records_in_total', help: 'Records entering a step', labelNames: ['pipeline', 'step'], registers: r, collect }),
    recordsOut: new Counter({ name: 'tributary_step_records_out_total', help: 'Records leaving a step, by stream', labelNames: ['pipeline', 'step', 'stream'], registers: r, collect }),
    recordsDropped: new Counter({ name: 'tributary_step_records_dropped_total', help: 'Records a step consumed without passing them on, by reason', labelNames: ['pipeline', 'step', 'reason'], registers: r, collect }),
    stepOutcomes: new Counter({ name: 'tributary_step_outcomes_total', help: 'Outcomes a step counts that are not drops (suppressed triggers, refused links), by name', labelNames: ['pipeline', 'step', 'outcome'], registers: r, collect }),
    sourceRecords: new Counter({ name: 'tributary_source_records_total', help: 'Input records read', labelNames: ['pipeline'], registers: r, collect }),
    deadLetters: new Counter({ name: 'tributary_dead_letter_records_total', help: 'Records sent to the dead-letter output, by reason', labelNames: ['pipeline', 'reason'], registers: r, collect }),
    lateRecords: new Counter({ name: 'tributary_late_records_total', help: 'Events older than the watermark, sent to the late output', labelNames: ['pipeline'], registers: r, collect }),
    streamRecords: new Counter({ name: 'tributary_output_records_total', help: 'Records written per output stream', labelNames: ['pipeline', 'stream'], registers: r, collect }),
    watermark: new Gauge({ name: 'tributary_watermark_seconds', help: 'Current event-time watermark (seconds since epoch)', labelNames: ['pipeline'], registers: r }),
    watermarkLag: new Gauge({ name: 'tributary_watermark_lag_seconds', help: 'Processing time minus watermark', labelNames: ['pipeline'], registers: r }),
    processingLatency: new Histogram({ name: 'tributary_processing_latency_seconds', help: 'Time to process one input record through all steps', labelNames: ['pipeline'], buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1], registers: r }),
    endToEndLatency: new Histogram({ name: 'tributary_end_to_end_latency_seconds', help: 'Event time to emit', labelNames: ['pipeline'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300], registers: r }),
    commits: new Counter({ name: 'tributary_commits_total', help: 'Checkpoints taken (state flushed with the source position)', labelNames: ['pipeline'], registers: r, collect }),
    commitLatency: new Histogram({ name: 'tributary_commit_latency_seconds', help: 'Checkpoint duration', labelNames: ['pipeline'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: r }),
    storeEntries: new Gauge({ name: 'tributary_store_entries', help: 'Entries in a state store', labelNames: ['pipeline', 'store'], registers: r }),
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
