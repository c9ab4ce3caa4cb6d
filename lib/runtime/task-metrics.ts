/**
 * The gauges and store counters a task publishes at each checkpoint (commit): its watermark and
 * watermark lag, and for every store it opened the entries, the bytes in its file and the
 * reads/writes/deletes since the last checkpoint. Per checkpoint, not per event: cheap, and
 * current at every scrape in between.
 */
import type { PipelineMetrics } from '../metrics/metrics.js';
import type { Topology } from '../pipeline/compile.js';
import type { CachingStoreFactory } from '../state/caching.js';
import { identifierFields, SourceQuality } from './data-quality.js';

export interface TaskMetricsContext {
  metrics: PipelineMetrics;
  pipeline: string;
  /** `embedded`, or the Kafka task id (`<sub-topology>_<partition>`). */
  task: string;
}

/**
 * Publishes a task's checkpoint metrics.
 *
 * @example
 * ```ts
 * publishCheckpointMetrics({ metrics, pipeline: 'shop', task: '0_1' }, task.watermarks.current(), Date.now(), task.stores);
 * ```
 */
export function publishCheckpointMetrics(c: TaskMetricsContext, watermark: number, now: number, stores: CachingStoreFactory): void {
  const { metrics, pipeline, task } = c;
  if (Number.isFinite(watermark)) {
    metrics.watermark.set({ pipeline, task }, watermark / 1000);
    metrics.watermarkLag.set({ pipeline, task }, (now - watermark) / 1000);
  }
  for (const store of stores.opened()) {
    const labels = { pipeline, task, store: store.name };
    metrics.storeEntries.set(labels, store.count());
    const bytes = store.bytes();
    if (bytes !== undefined) metrics.storeBytes.set(labels, bytes);
    const ops = store.takeOperations();
    if (ops.get) metrics.storeOperations.inc({ pipeline, store: store.name, operation: 'get' }, ops.get);
    if (ops.put) metrics.storeOperations.inc({ pipeline, store: store.name, operation: 'put' }, ops.put);
    if (ops.delete) metrics.storeOperations.inc({ pipeline, store: store.name, operation: 'delete' }, ops.delete);
  }
}

/** A task's gauges: its checkpoint metrics and its source's data quality, published together. */
export class TaskGauges {
  readonly quality: SourceQuality;
  private publishedAt = -Infinity;

  constructor(private readonly c: TaskMetricsContext, topology: Topology, sourceName: string) {
    this.quality = new SourceQuality(c.metrics, c.pipeline, sourceName, identifierFields(topology));
  }

  /** Publishes now, or only when `everyMs` passed since the last time. */
  publish(watermark: number, now: number, stores: CachingStoreFactory, everyMs = 0): void {
    const t = performance.now();
    if (t - this.publishedAt < everyMs) return;
    this.publishedAt = t;
    publishCheckpointMetrics(this.c, watermark, now, stores);
    this.quality.publish();
  }
}

/**
 * Counts a trigger rule's outcome (`count(outcome, rule)` of the operator context): `fired` in
 * `tributary_triggers_fired_total` only ('only': not a step outcome), `suppressed-<reason>` in
 * `tributary_triggers_suppressed_total` and as a step outcome too ('also').
 */
export function countRuleOutcome(metrics: PipelineMetrics, pipeline: string, step: string, rule: string, outcome: string): 'only' | 'also' {
  if (!outcome.startsWith('suppressed-')) {
    metrics.triggersFired.inc({ pipeline, step, rule });
    return 'only';
  }
  metrics.triggersSuppressed.inc({ pipeline, step, rule, reason: outcome.slice('suppressed-'.length) });
  return 'also';
}
