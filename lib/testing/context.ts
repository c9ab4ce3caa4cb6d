/**
 * An {@link OperatorContext} for testing an operator's logic with plain calls: the watermark
 * is set by hand, emitted records and drops are recorded.
 */
import { annotatedCopy, type DerivedRecord, type OperatorContext } from '../operator/contract.js';
import { MemoryStoreFactory } from '../state/engines/memory.js';
import type { StoreFactory, StoreKey } from '../state/store.js';
import { ManualClock } from '../time/clock.js';

/** A context plus what the logic did with it. */
export interface RecordingContext extends OperatorContext {
  readonly emitted: Array<{ stream: string; record: DerivedRecord }>;
  readonly drops: string[];
  /** Outcomes counted with `count()`, in order (a trigger rule's `fired` goes to {@link fired}). */
  readonly counts: string[];
  /** The rules of trigger records counted as fired (`count('fired', rule)`), in order. */
  readonly fired: string[];
  /** Sets what `watermark()` returns. */
  setWatermark(time: number): void;
  readonly stores: StoreFactory;
}

/**
 * @example
 * ```ts
 * const ctx = recordingContext('dedupe');
 * const logic = dedupeOperator.create(dedupeOperator.resolve({ ttl: '1m' }), ctx);
 * logic.process(event, event.messageId);
 * ctx.emitted; // []
 * ```
 */
export function recordingContext(step: string, stores: StoreFactory = new MemoryStoreFactory()): RecordingContext {
  let watermark = -Infinity;
  const emitted: Array<{ stream: string; record: DerivedRecord }> = [];
  const drops: string[] = [];
  const counts: string[] = [];
  const fired: string[] = [];
  return {
    pipeline: 'test',
    step,
    clock: new ManualClock(),
    stores,
    emitted,
    drops,
    counts,
    fired,
    store: <K extends StoreKey, V>(name: string) => stores.open<K, V>(`${step}.${name}`),
    emit: (stream, record) => emitted.push({ stream, record }),
    drop: (reason) => drops.push(reason),
    count: (outcome, rule) => (rule !== undefined && outcome === 'fired' ? fired.push(rule) : counts.push(outcome)),
    watermark: () => watermark,
    annotate: annotatedCopy,
    setWatermark: (t) => {
      watermark = t;
    },
  };
}
