/**
 * The query API of `windowAggregate`: a key's values read from the step's stores, for the
 * running pipeline ({@link windowAggregateQuery}) and for annotating events (`readValuesAt`).
 */
import { valuesOf } from '../aggregates/accumulators.js';
import { upperBound } from '../aggregates/sliding.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import type { WindowAggregateConfig } from './options.js';
import { current, slidingAt, type OpenWindow, type SlidingState } from './state.js';

/** The current values of one key, as read by the query API. */
export interface CurrentValues {
  windowStart: number;
  windowEnd: number;
  values: Record<string, unknown>;
}

/** The stores the query API reads. */
export interface WindowAggregateStores {
  windows: KeyValueStore<string, OpenWindow[]>;
  entries: KeyValueStore<string, SlidingState>;
}

/**
 * The key's values in the window that contains `t` (sliding: `(t − size, t]`; hopping: the
 * earliest-starting open window containing `t`), or undefined when the key has no open
 * window there. Reads only.
 */
export function readValuesAt(config: WindowAggregateConfig, stores: WindowAggregateStores, key: string, t: number): CurrentValues | undefined {
  const { kind, sizeMs: size, advanceMs: adv } = config.window;
  if (kind === 'sliding') {
    const stored = stores.entries.get(key);
    if (!stored || upperBound(stored.ts, t - size) === upperBound(stored.ts, t)) return undefined;
    const state = current(stored);
    const run = state.h?.t === t ? state.h : slidingAt(config.aggregates, state, size, t);
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
export function windowAggregateQuery(config: WindowAggregateConfig, stores: WindowAggregateStores, key: string): CurrentValues | undefined {
  if (config.window.kind === 'sliding') {
    const ts = stores.entries.get(key)?.ts;
    const latest = ts?.[ts.length - 1];
    return latest === undefined ? undefined : readValuesAt(config, stores, key, latest);
  }
  const list = stores.windows.get(key);
  const latest = list?.[list.length - 1];
  return latest === undefined ? undefined : readValuesAt(config, stores, key, latest.start);
}
