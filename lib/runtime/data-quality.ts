/**
 * Data-quality metrics of a source, counted as the task takes its records in: records rejected
 * before the steps (by source and reason), valid events missing a configured identifier or key
 * field (null ratio = missing / source records), and the greatest event time seen (freshness =
 * now − that). Duplicates are the dedupe step's `tributary_step_records_dropped_total{reason="duplicate"}`.
 */
import type { TributaryEvent } from '../event/event.js';
import { tally, type PipelineMetrics, type Tally } from '../metrics/metrics.js';
import type { Topology } from '../pipeline/compile.js';

/**
 * The fields whose absence is a data-quality signal: the source key fields and the identifiers
 * of `joinIdentity` steps, in that order, each once.
 *
 * @example
 * ```ts
 * identifierFields(topology); // ['anonymousId', 'userId'] for key [anonymousId, userId] and identifiers [userId, anonymousId]
 * ```
 */
export function identifierFields(topology: Topology): string[] {
  const fields = [...(topology.source.key ?? [])];
  for (const step of topology.steps) {
    const ids = step.operator === 'joinIdentity' ? (step.config as { identifiers?: unknown }).identifiers : undefined;
    if (Array.isArray(ids)) for (const f of ids) if (typeof f === 'string') fields.push(f);
  }
  return [...new Set(fields)];
}

/** Counts one source's data-quality metrics (one per task). */
export class SourceQuality {
  private readonly missing: Array<{ field: string; counter: Tally }>;
  private readonly invalidByReason = new Map<string, Tally>();
  private lastEventTime = -Infinity;

  constructor(private readonly metrics: PipelineMetrics, private readonly pipeline: string, private readonly source: string, fields: string[]) {
    this.missing = fields.map((field) => ({ field, counter: tally(metrics.missingFields, { pipeline, field }) }));
  }

  /** A source record rejected before the steps (undecodable, invalid, no key). */
  invalid(reason: string): void {
    let c = this.invalidByReason.get(reason);
    if (!c) this.invalidByReason.set(reason, (c = tally(this.metrics.sourceInvalid, { pipeline: this.pipeline, source: this.source, reason })));
    c.inc();
  }

  /** A valid event from the source. */
  observe(event: TributaryEvent): void {
    const e = event as Record<string, unknown>;
    for (const m of this.missing) {
      const v = e[m.field];
      if (v === undefined || v === null || v === '') m.counter.inc();
    }
    if (event.timestamp > this.lastEventTime) this.lastEventTime = event.timestamp;
  }

  /** Sets the gauges (at a checkpoint: nothing per event, current at every scrape between). */
  publish(): void {
    // Several tasks share the gauge: it holds the greatest.
    if (this.lastEventTime <= (latest.get(this.metrics) ?? -Infinity)) return;
    latest.set(this.metrics, this.lastEventTime);
    this.metrics.lastEventTime.set({ pipeline: this.pipeline }, this.lastEventTime / 1000);
  }
}

/** The greatest event time published per metrics set. */
const latest = new WeakMap<PipelineMetrics, number>();
