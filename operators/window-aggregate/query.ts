/**
 * The query API of `windowAggregate`: a key's values read from the step's stores, for the
 * running pipeline ({@link windowAggregateQuery}) and for annotating events (`readValuesAt`).
 */
import { valuesOf } from '../aggregates/accumulators.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import { bucketWidth, ChunkView, type Chunk, type ChunkStore } from './chunks.js';
import type { WindowAggregateConfig } from './options.js';
import type { KeyRunning } from './running.js';
import { isCurrent, slidingAt, type OpenWindow, type StoredSliding, type TimedChunk } from './state.js';
import { upgradeSliding } from './upgrade.js';

/** The current values of one key, as read by the query API. */
export interface CurrentValues {
  windowStart: number;
  windowEnd: number;
  values: Record<string, unknown>;
}

/** The stores the query API reads. */
export interface WindowAggregateStores {
  windows: KeyValueStore<string, OpenWindow[]>;
  entries: KeyValueStore<string, StoredSliding>;
  /** Sliding windows: the buckets of the keys' entries. */
  chunks: ChunkStore;
}

/** Reads a key's stored sliding value, whatever layout wrote it; never writes. */
function slidingView(value: StoredSliding, config: WindowAggregateConfig, chunks: ChunkStore, key: string): ChunkView {
  const load = (start: number) => chunks.get([key, start]) as Chunk;
  if (isCurrent(value)) return new ChunkView(value, load);
  // An earlier layout, read as the logic will rewrite it when it opens.
  const { state, chunks: rewritten } = upgradeSliding(value, bucketWidth(config.window.sizeMs), (start) => load(start) as unknown as TimedChunk);
  return new ChunkView(state, (start) => rewritten.get(start) as Chunk);
}

/**
 * The key's values in the window that contains `t` (sliding: `(t − size, t]`; hopping: the
 * earliest-starting open window containing `t`), or undefined when the key has no open
 * window there (sliding: when neither the key's latest event nor an event that counts in some
 * aggregate is in it — the times of other events are not kept). Reads only. `running`: the key's running windows when the logic keeps them
 * (else a value of an earlier layout may carry them, else the window is folded).
 */
export function readValuesAt(config: WindowAggregateConfig, stores: WindowAggregateStores, key: string, t: number, running?: KeyRunning): CurrentValues | undefined {
  const { kind, sizeMs: size, advanceMs: adv } = config.window;
  if (kind === 'sliding') {
    const stored = stores.entries.get(key);
    if (!stored) return undefined;
    const entries = slidingView(stored, config, stores.chunks, key);
    // An event in the window: the key's latest, or one that counts (only those are kept).
    const latest = entries.latest();
    if (!(latest !== undefined && latest <= t && latest > t - size) && entries.upperBound(t) === entries.upperBound(t - size)) return undefined;
    const h = running ? running.h : stored.h;
    const f = running ? running.f : stored.f;
    const run = h?.t === t ? h : slidingAt(config.aggregates, f, entries, size, t);
    return { windowStart: t - size, windowEnd: t, values: valuesOf(config.aggregates, run.acc, t) };
  }
  const list = stores.windows.get(key);
  if (!list) return undefined;
  if (kind === 'session') {
    // The latest session starting at or before `t`, if it reaches `t`.
    for (let i = list.length - 1; i >= 0; i--) {
      const w = list[i] as OpenWindow;
      if (w.start > t) continue;
      const end = w.end ?? w.start;
      return end >= t ? { windowStart: w.start, windowEnd: end, values: valuesOf(config.aggregates, w.acc, end) } : undefined;
    }
    return undefined;
  }
  const last = Math.floor(t / adv) * adv;
  for (const w of list) {
    if (w.start >= last - size + 1 && w.start <= last && w.start + size > t) return { windowStart: w.start, windowEnd: w.start + size, values: valuesOf(config.aggregates, w.acc, w.start + size) };
  }
  return undefined;
}

/**
 * The query API: a key's current values, read from the step's stores while the pipeline runs
 * (the window of the key's latest event: sliding `(latest − size, latest]`, else the
 * earliest-starting open window containing the latest window start). Undefined when the key
 * has no open window or no retained entries. Reads only (never changes a stored value).
 *
 * @example
 * ```ts
 * const config = windowAggregateOperator.resolve(options);
 * const values = windowAggregateQuery(config, { windows: driver.store('features', 'windows'), entries: driver.store('features', 'entries') }, 'u1');
 * values?.values.orders; // 3
 * ```
 */
export function windowAggregateQuery(config: WindowAggregateConfig, stores: WindowAggregateStores, key: string, running?: KeyRunning): CurrentValues | undefined {
  if (config.window.kind === 'sliding') {
    const stored = stores.entries.get(key);
    const latest = stored && slidingView(stored, config, stores.chunks, key).latest();
    return latest === undefined ? undefined : readValuesAt(config, stores, key, latest, running);
  }
  const list = stores.windows.get(key);
  const latest = list?.[list.length - 1];
  return latest === undefined ? undefined : readValuesAt(config, stores, key, latest.start);
}
