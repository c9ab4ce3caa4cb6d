/**
 * The per-key state layout of `windowAggregate` and its pure helpers: telling the layouts
 * apart ({@link isCurrent}, {@link checkLayout}; `upgrade.ts` reads the earlier ones) and the sliding accumulators of a
 * window without changing the state ({@link slidingAt}).
 *
 * State, only through the store interface (a restart from LMDB or a restored changelog resumes
 * exactly), one value per operator key, read with a point `get` and written back with a `put`
 * per event (tumbling/hopping/session values are replaced, what changes copied; a sliding
 * value is changed in place and put back in the same `process`/`advance` call, which
 * `immutableState` allows):
 *
 * - `windows` (tumbling/hopping/session): key → its open windows `[{ start, end?, acc,
 *   updates, lastUpdate }]` sorted by start; a window leaves the list when it closes, the key
 *   when its last window does. Per event: the key's few windows, no scan.
 * - `entries` (sliding): key → `{ w, b, m, l, lt, p, updates, lastUpdate, until }`: where
 *   the key's entries are (`chunks.ts`: bucket width, bucket starts, entries per bucket, the
 *   newest bucket), the time of its latest event, the event times whose final record is pending and
 *   the update bookkeeping. The two running windows (`aggregates/sliding.ts`) are not stored:
 *   `f`, the window of the last final record, moved forward by the next one (entries that
 *   enter are folded, those that leave taken out — subtracted when exact, else only that
 *   aggregate refolded), and, with `emit: update` or `annotate`, `h`, the window ending at the
 *   key's latest event, are in memory (`running.ts`): derived from the entries, they are folded
 *   afresh after a restart, with the same results (values written by earlier versions still
 *   carry them, and hand them over once). The value and its
 *   buckets are deleted at the latest `t + size + grace` (`until`) by the key's `z:` timer (the
 *   update counter lives as long as the key's entries). No store expiry: the timer already
 *   deletes both, and an expiry moved by every event cost a heap push per event and two
 *   expiry-index writes per key at each checkpoint (values written with one by earlier versions
 *   lose it when next written).
 * - `chunks` (sliding): `[key, bucket start]` → `{ ts, cs }`: the times of the bucket's
 *   entries (ascending, ties in arrival order) and their contributions. Only events that count
 *   in some aggregate are entries: one that counts nowhere changes no window, and only moves the
 *   key's latest time (`lt`). An event changes one bucket; a final record costs the entries
 *   that enter and leave its window instead of a fold of the whole window; entries no window can
 *   include any more (at or before the last final's `t − size`) are dropped then, a bucket at a
 *   time, and what is left goes with the key's value. An out-of-order event (before
 *   the head) costs a move of a copy of `f` over the entries since the last final; records are
 *   identical to a left fold over the window in entry order.
 * - Close timers are in memory ({@link MemoryTimers}, (time, id) order as before): one per
 *   open window and, for sliding windows, one per key at its earliest pending final; the logic
 *   rebuilds them from the stores with one `range()` when it is created (after a task restored
 *   its stores, or an embedded run reopened its LMDB state), so a pending window still closes
 *   once, with the same record, after a restart. A sliding value of an earlier layout (buckets
 *   with every event's time, or every entry in the value: `ts` with `c`, or `cs` one contribution
 *   list per entry) is rewritten in the current one when the logic opens
 *   (`upgrade.ts`); state from the layout before those (`[key, start]` keys) is refused with a
 *   message: delete it and replay.
 */
import type { Acc, ResolvedAggregate } from '../aggregates/accumulators.js';
import { buildRunning, cloneRunning, moveRunning, type Entries, type EntryList, type Running } from '../aggregates/sliding.js';
import type { ChunkIndex } from './chunks.js';

/** A window's accumulators and update bookkeeping. */
export interface WindowState {
  /** Session windows: the latest event time (the window's end). */
  end?: number;
  /** One accumulator per aggregate, in option order. */
  acc: Acc[];
  /** Updates emitted so far. */
  updates: number;
  /** Event time of the last update emitted, or null. */
  lastUpdate: number | null;
}

/** An open tumbling/hopping/session window, one element of its key's `windows` value. */
export interface OpenWindow extends WindowState {
  start: number;
}

/** A sliding-window entry: what one event contributes, as `[aggregate index, value]`. */
export type SlidingEntry = Array<[number, unknown]>;

/** A key's sliding-window state: the value of `entries` at the key (its entries are in `chunks`). */
export interface SlidingState extends ChunkIndex {
  /** Event times whose final record is pending, ascending. */
  p: number[];
  /** Updates emitted so far, and the event time of the last one. */
  updates: number;
  lastUpdate: number | null;
  /** The latest expiry of the key's entries (its `z:` timer deletes the value and buckets then). */
  until: number;
  /** Written by earlier versions only: the running windows, now in memory (`running.ts`). */
  f?: Running | null;
  h?: Running | null;
}

/** A bucket as written by the layout that kept every event's time: those times, and the counting entries in `c`. */
export interface TimedChunk {
  ts: number[];
  c: EntryList;
}

/** A key's value as written by the layout that kept every event's time in its buckets (`n`: entries per bucket, all of them). */
export interface SlidingStateTimed extends Omit<SlidingState, 'l' | 'lt'> {
  n: number[];
  l: TimedChunk | null;
  lt?: undefined;
}

/** A key's value as written before buckets: every entry in it (`ts`, and the counting ones in `c`). */
export interface SlidingStateV2 extends Omit<SlidingState, keyof ChunkIndex> {
  ts: number[];
  c: EntryList;
}

/**
 * The accumulators of `(t − size, t]` over `entries` without changing anything: a copy of the
 * key's final window `f` moved forward when it is at or before `t` (an out-of-order event is
 * after the last final record), else (no `f`, or one after `t`) a fold of the window.
 */
export function slidingAt(aggregates: readonly ResolvedAggregate[], f: Running | null | undefined, entries: Entries, size: number, t: number): Running {
  if (f?.t === t) return f;
  if (f === null || f === undefined || f.t > t || t - size >= f.t) return buildRunning(aggregates, entries, size, t);
  const run = cloneRunning(f);
  moveRunning(aggregates, entries, size, run, t);
  return run;
}

/** A key's value as written before contributions were kept apart (`cs` parallel to `ts`). */
export interface SlidingStateV1 extends Omit<SlidingStateV2, 'c'> {
  c?: undefined;
  cs: SlidingEntry[];
}

/** A value of `entries` as any layout since one value per key wrote it. */
export type StoredSliding = SlidingState | SlidingStateTimed | SlidingStateV2 | SlidingStateV1;

/** Whether a value of `entries` is of the current layout (else `upgrade.ts` reads it). */
export const isCurrent = (state: StoredSliding): state is SlidingState => (state as SlidingState).b !== undefined && (state as SlidingStateTimed).n === undefined;

/** Whether a value of `entries` keeps its entries in buckets with every event's time (the layout before the current one). */
export const isTimed = (state: StoredSliding): state is SlidingStateTimed => (state as SlidingStateTimed).n !== undefined;

/**
 * A value of the layout before buckets, in its last form (`ts` and `c`): one written with `cs`
 * (one contribution list per entry) is read into a new object, the stored one left as it is.
 */
export function beforeBuckets(state: SlidingStateV2 | SlidingStateV1): SlidingStateV2 {
  if (state.c !== undefined) return state;
  const { cs, ...rest } = state;
  const c: EntryList = { ts: [], cs: [] };
  cs.forEach((x, j) => {
    if (x.length === 0) return;
    c.ts.push(state.ts[j] as number);
    c.cs.push(x);
  });
  return { ...rest, ts: state.ts.slice(), p: state.p.slice(), f: state.f && cloneRunning(state.f), h: state.h && cloneRunning(state.h), c };
}

/** Refuses state written by the layout before one value per key (`[key, start]` / `[key, t, seq]` keys). */
export function checkLayout(store: string, key: unknown): void {
  if (typeof key !== 'string') {
    throw new Error(`${store}: state written by an older windowAggregate layout (key ${JSON.stringify(key)}); delete the state directory (or reset the changelog) and replay the input`);
  }
}
