/**
 * `windowAggregate`: named aggregates per key over event-time windows. Events pass
 * through (optionally annotated with the key's current values); aggregate records go to the
 * `output` stream.
 *
 * Semantics, precisely (all times are event times in ms):
 *
 * - **Windows.** `{ tumbling: 1h }`: windows `[k·size, (k+1)·size)` aligned to the epoch.
 *   `{ hopping: 1h, advance: 15m }`: windows `[k·advance, k·advance + size)`; an event belongs to
 *   every window containing it (`size / advance` of them). `{ sliding: 90d }`: per key and per
 *   event, "the last 90d": the record of an event at `t` covers `(t − size, t]`, i.e. every
 *   event of the key with a timestamp in that interval (`windowStart = t − size`, `windowEnd = t`).
 *   `{ session: 30m }`: gap sessions per key: an event joins (and bridges) every open session
 *   with `start − gap ≤ t ≤ end + gap` (inclusive, as in `sessionize`, no maximum duration);
 *   `windowStart`/`windowEnd` are the first and last event time.
 * - **Closing.** A tumbling or hopping window `[start, end)` closes when the watermark reaches
 *   `end + grace` (`grace` default 0). A sliding record for `t` is final when the watermark
 *   reaches `t + 1 + grace` (then no event at or before `t` can still arrive); a session when it
 *   reaches `end + gap + 1 + grace` (it has passed `end + gap`). Late events never
 *   reach the operator (the task routes them to `late`), so closing never changes a result;
 *   `grace` only delays closing (lateness itself is the source's `allowedLateness`). End of
 *   input (watermark +∞) closes everything.
 * - **Emit.** `final` (default): one record per window when it closes (`final: true`); for
 *   sliding windows one per distinct `(key, event time)`. `update`: in addition, a record
 *   (`final: false`) each time an event changes a window, at most one per `updateInterval` of
 *   event time per key and window (default 0: every event; with an interval, an update is
 *   due at `t ≥ last update's time + interval`, so out-of-order events wait for the next one);
 *   the final record still comes when the window closes, so a suppressed change is never lost.
 * - **Aggregates.** Each `name → { <kind>: …, where?: condition }`; `where` (the condition
 *   language of `lib/condition`, checked when the pipeline loads) selects the events it counts.
 *   The kinds — `count`, `sum`, `min`, `max`, `avg`, `first`, `last`, `countDistinct` (exact up
 *   to 1000 values, then HyperLogLog, ≈1.6 % standard error), `topK`, `rfm` — are specified in
 *   `aggregates/accumulators.ts`.
 * - **Records.** `{ key, windowStart, windowEnd, values: { <name>: value }, final, id }` with
 *   `id = deriveId('aggregate', step, key, windowStart, 'final')` for final records and
 *   `deriveId('aggregate', step, key, windowStart, 'update', n)` for the n-th update (n from 1,
 *   per key and window), so a replay writes the same ids.
 * - **Annotate.** With `annotate: features`, each passing event gets `features: { <name>:
 *   value }`: the values, right after the event, of the window reported by
 *   {@link WindowAggregateLogic.current} for the event's time (sliding: `(t − size, t]`;
 *   tumbling: the window containing `t`; hopping: the earliest-starting window containing `t`,
 *   the one with the most history; session: the session containing `t`).
 * - **Duplicates** count twice: put `dedupe` before this step to count each event once.
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
 * - `entries` (sliding): key → `{ ts, c, p, updates, lastUpdate, until, f, h }`: the times
 *   of the key's entries (ascending, ties in arrival order), `c = { ts, cs }` the times and
 *   contributions of those that count in some aggregate (an entry that counts nowhere keeps
 *   only its time: windows fold nothing of it), the event times
 *   whose final record is pending, the update bookkeeping, and two running windows
 *   (`aggregates/sliding.ts`): `f`, the window of the last final record, moved forward by
 *   the next one (entries that enter are folded, those that leave taken out — subtracted when
 *   exact, else only that aggregate refolded), and, with `emit: update` or `annotate`, `h`,
 *   the window ending at the key's latest event. A final record costs the entries that enter
 *   and leave its window instead of a fold of the whole window; entries no window can include
 *   any more (at or before the last final's `t − size`) are dropped then. The value expires
 *   at the latest `t + size + grace` (the update counter lives as long as the key's entries).
 *   An out-of-order event (before the head) costs a move of a copy of `f` over the entries
 *   since the last final; records are identical to a left fold over the window in entry order.
 * - Close timers are in memory ({@link MemoryTimers}, (time, id) order as before): one per
 *   open window and, for sliding windows, one per key at its earliest pending final; the logic
 *   rebuilds them from the stores with one `range()` when it is created (after a task restored
 *   its stores, or an embedded run reopened its LMDB state), so a pending window still closes
 *   once, with the same record, after a restart. A sliding value of the previous layout
 *   (`cs`, one contribution list per entry) is read as the current one; state from the layout
 *   before (`[key, start]` keys) is refused with a message: delete it and replay.
 */
import type { OperatorFunction } from 'rxjs';
import { conditionSchema } from '../lib/condition/condition.js';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { aggregateSchema, contributions, fold, initial, merge, resolveAggregate, valuesOf, type Acc, type AggregateSpec, type ResolvedAggregate } from './aggregates/accumulators.js';
import type { KeyValueStore } from '../lib/state/store.js';
import { MemoryTimers } from '../lib/time/timers.js';
import { buildRunning, cloneRunning, insertIntoRunning, moveRunning, upperBound, type EntryList, type Running } from './aggregates/sliding.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';

/** A window as written in a pipeline (exactly one kind). */
export type WindowSpec = { tumbling: Duration } | { hopping: Duration; advance: Duration } | { sliding: Duration } | { session: Duration };

export { AGGREGATE_KINDS, type AggregateSpec, type AggregateKind, type ResolvedAggregate, type Acc } from './aggregates/accumulators.js';

/** Options of `windowAggregate` as written in a pipeline. */
export interface WindowAggregateOptions {
  /** Aggregation key: a field path or a list of paths (first non-null). Default `[personId, anonymousId, userId]`. */
  key?: string | string[];
  window: WindowSpec;
  /** Extra event time after a window's end before it closes. Default `0ms`. */
  grace?: Duration;
  /** Aggregates by name. */
  aggregates: Record<string, AggregateSpec>;
  /** `final` (default): one record per closed window; `update`: also a record per change. */
  emit?: 'final' | 'update';
  /** With `emit: update`: at most one update per key and window per this much event time. Default `0ms`. */
  updateInterval?: Duration;
  /** Stream receiving the aggregate records. Default: none. */
  output?: string;
  /** Field added to each passing event with the key's current values. Default: none. */
  annotate?: string;
  /** Step name, when a pipeline has two windowAggregate steps. */
  name?: string;
}

/** Resolved options. */
export interface WindowAggregateConfig {
  key: string[];
  /** `sizeMs` is the gap for session windows. */
  window: { kind: 'tumbling' | 'hopping' | 'sliding' | 'session'; sizeMs: number; advanceMs: number };
  graceMs: number;
  aggregates: ResolvedAggregate[];
  emit: 'final' | 'update';
  updateIntervalMs: number;
  output: string | undefined;
  annotate: string | undefined;
}

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

/** A key's sliding-window state: the value of `entries` at the key. */
export interface SlidingState {
  /** The times of the key's entries, ascending (ties in arrival order). */
  ts: number[];
  /** The entries that count in some aggregate: their times and contributions, in the same order. */
  c: EntryList;
  /** Event times whose final record is pending, ascending. */
  p: number[];
  /** Updates emitted so far, and the event time of the last one. */
  updates: number;
  lastUpdate: number | null;
  /** The latest expiry of the key's entries (the value expires then). */
  until: number;
  /** The window of the last final record (moved forward by the next one), or null. */
  f: Running | null;
  /** With `emit: update` or `annotate`: the window ending at the key's latest event time. */
  h: Running | null;
}

/** A record of the aggregates output. */
export interface AggregateRecord extends DerivedRecord {
  id: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  values: Record<string, unknown>;
  final: boolean;
}

/** Timer data: the key and the window start (sliding: the event time). */
type TimerData = readonly [string, number];

/** The current values of one key, as read by the query API. */
export interface CurrentValues {
  windowStart: number;
  windowEnd: number;
  values: Record<string, unknown>;
}

/**
 * The per-key logic of windowAggregate, usable with plain calls (see the module notes).
 *
 * @example
 * ```ts
 * const ctx = recordingContext('windowAggregate');
 * const config = windowAggregateOperator.resolve({ window: { tumbling: '1h' }, aggregates: { n: { count: {} } }, output: 'aggregates' });
 * const logic = new WindowAggregateLogic(config, ctx);
 * logic.process(event, 'a1');
 * logic.advance(Infinity); // ctx.emitted: one record on `aggregates`
 * ```
 */
export class WindowAggregateLogic implements OperatorLogic {
  private readonly windows: KeyValueStore<string, OpenWindow[]>;
  private readonly entries: KeyValueStore<string, SlidingState>;
  /** Close timers, rebuilt from the stores when the logic is created (they hold all it needs). */
  private readonly timers = new MemoryTimers<TimerData>();
  /** Sliding: keep the head window (for `emit: update` and `annotate`). */
  private readonly head: boolean;

  constructor(private readonly config: WindowAggregateConfig, private readonly ctx: OperatorContext) {
    this.windows = ctx.store<string, OpenWindow[]>('windows');
    this.entries = ctx.store<string, SlidingState>('entries');
    this.head = config.emit === 'update' || config.annotate !== undefined;
    const { kind, sizeMs: size } = config.window;
    const grace = config.graceMs;
    // One pass over the state (restored by a Kafka task, or reopened from LMDB): a pending
    // close timer per open window, and per key its earliest pending sliding final.
    if (kind === 'sliding') {
      for (const { key, value } of this.entries.range()) {
        checkLayout(this.entries.name, key);
        const at = value.p[0];
        if (at !== undefined) this.timers.register({ id: `s:${at}:${key}`, time: at + 1 + grace, data: [key, at] });
      }
    } else {
      for (const { key, value } of this.windows.range()) {
        checkLayout(this.windows.name, key);
        for (const w of value) {
          if (kind === 'session') this.timers.register({ id: `x:${w.start}:${key}`, time: (w.end as number) + size + 1 + grace, data: [key, w.start] });
          else this.timers.register({ id: `w:${w.start}:${key}`, time: w.start + size + grace, data: [key, w.start] });
        }
      }
    }
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    const t = event.timestamp;
    const contrib = contributions(this.config.aggregates, event);
    const kind = this.config.window.kind;
    const field = this.config.annotate;
    if (kind === 'sliding') {
      const acc = this.processSliding(t, key, contrib);
      if (field === undefined) return event;
      return this.ctx.annotate(event, field, valuesOf(this.config.aggregates, acc as Acc[], t));
    }
    if (kind === 'session') this.processSession(t, key, contrib);
    else this.processFixed(t, key, contrib);
    if (field === undefined) return event;
    return this.ctx.annotate(event, field, this.valuesAt(key, t)?.values ?? valuesOf(this.config.aggregates, this.config.aggregates.map((a) => initial(a)), t));
  }

  /** The window starts containing `t`, earliest first. */
  private startsOf(t: number): number[] {
    const { sizeMs: size, advanceMs: adv } = this.config.window;
    const last = Math.floor(t / adv) * adv;
    const starts: number[] = [];
    for (let s = last; s > t - size; s -= adv) starts.push(s);
    return starts.reverse();
  }

  private processFixed(t: number, key: string, contrib: SlidingEntry): void {
    const { aggregates, graceMs, emit } = this.config;
    // Stored values are never changed: a new list, and a new state for each window changed.
    const list = (this.windows.get(key) ?? []).slice();
    for (const start of this.startsOf(t)) {
      const end = start + this.config.window.sizeMs;
      let at = list.length;
      while (at > 0 && (list[at - 1] as OpenWindow).start >= start) at--;
      const found = list[at];
      let w: OpenWindow;
      if (found === undefined || found.start !== start) {
        w = { start, acc: aggregates.map((a) => initial(a)), updates: 0, lastUpdate: null };
        list.splice(at, 0, w);
        this.schedule(`w:${start}:${key}`, end + graceMs, [key, start]);
      } else list[at] = w = { start, acc: found.acc.slice(), updates: found.updates, lastUpdate: found.lastUpdate };
      for (const [i, v] of contrib) w.acc[i] = fold(aggregates[i] as ResolvedAggregate, w.acc[i] as Acc, t, v);
      if (emit === 'update' && this.updateDue(w.lastUpdate, t)) {
        w.updates++;
        w.lastUpdate = t;
        this.emitRecord(key, start, end, w.acc, false, w.updates);
      }
    }
    this.windows.put(key, list);
  }

  /**
   * Adds the event's entry to its key's state and schedules its final record; returns the
   * accumulators of `(t − size, t]` when they are needed (`emit: update`, `annotate`).
   */
  private processSliding(t: number, key: string, contrib: SlidingEntry): Acc[] | undefined {
    const { aggregates, graceMs, emit } = this.config;
    const size = this.config.window.sizeMs;
    // The key's value is changed in place and put back below, in this call (see `immutableState`).
    const old = this.entries.get(key);
    const state: SlidingState = old ? current(old) : { ts: [], c: { ts: [], cs: [] }, p: [], updates: 0, lastUpdate: null, until: -Infinity, f: null, h: null };
    const c = state.c;
    insertAt(state.ts, upperBound(state.ts, t), t);
    // Only entries that count in some aggregate keep a contribution (the window folds nothing else).
    let j = -1;
    if (contrib.length > 0) {
      j = upperBound(c.ts, t);
      insertAt(c.ts, j, t);
      insertAt(c.cs, j, contrib);
    }
    // Not late, so after the last final record; if not (a replay), fold that window afresh.
    if (state.f !== null && t <= state.f.t) state.f = null;
    let acc: Acc[] | undefined;
    if (this.head) {
      const h = state.h;
      if (h === null || (t - size >= h.t && t > h.t)) state.h = buildRunning(aggregates, c, size, Math.max(t, h?.t ?? t));
      else if (t > h.t) moveRunning(aggregates, c, size, h, t);
      else if (t > h.t - size && j >= 0) insertIntoRunning(aggregates, c, size, h, j);
      acc = (state.h as Running).t === t ? (state.h as Running).acc : slidingAt(aggregates, state, size, t).acc;
    }
    const p = state.p;
    let k = p.length;
    while (k > 0 && (p[k - 1] as number) > t) k--;
    if (k === 0 || p[k - 1] !== t) {
      insertAt(p, k, t);
      if (k === 0) {
        const next = p[1];
        if (next !== undefined) this.timers.cancel(`s:${next}:${key}`);
        this.schedule(`s:${t}:${key}`, t + 1 + graceMs, [key, t]);
      }
    }
    if (emit === 'update' && this.updateDue(state.lastUpdate, t)) {
      state.updates++;
      state.lastUpdate = t;
      this.emitRecord(key, t - size, t, acc as Acc[], false, state.updates);
    }
    // The value outlives every entry of the key, so the update counter lives as long as one does.
    state.until = Math.max(state.until, t + size + graceMs);
    this.entries.put(key, state, { expiresAt: state.until });
    return acc;
  }

  /**
   * Session windows: the event joins every open session of its key within `gap` of it
   * (`start − gap ≤ t ≤ end + gap`), merging them (states merged in start order, then the
   * event folded in); without one it starts a session `[t, t]`. One close timer per session at
   * `end + gap + 1 + grace`, moved as the session grows.
   */
  private processSession(t: number, key: string, contrib: SlidingEntry): void {
    const { aggregates, graceMs, emit } = this.config;
    const gap = this.config.window.sizeMs;
    const list = this.windows.get(key) ?? [];
    const found: OpenWindow[] = [];
    const kept: OpenWindow[] = [];
    for (const w of list) {
      if (w.start <= t + gap && (w.end ?? w.start) >= t - gap) found.push(w);
      else kept.push(w);
    }
    let start = t;
    let end = t;
    let acc: Acc[] = aggregates.map((a) => initial(a));
    let updates = 0;
    let lastUpdate: number | null = null;
    found.forEach((state, n) => {
      const s = state.start;
      acc = n === 0 ? state.acc.slice() : acc.map((x, i) => merge(aggregates[i] as ResolvedAggregate, x, state.acc[i] as Acc));
      start = Math.min(start, s);
      end = Math.max(end, state.end ?? s);
      this.timers.cancel(`x:${s}:${key}`);
      if (lastUpdate === null || (state.lastUpdate !== null && state.lastUpdate > lastUpdate)) lastUpdate = state.lastUpdate;
    });
    // Update ids are per window start: continue the counter of the session that keeps its start.
    const keeper = found.find((f) => f.start === start);
    if (keeper) updates = keeper.updates;
    for (const [i, v] of contrib) acc[i] = fold(aggregates[i] as ResolvedAggregate, acc[i] as Acc, t, v);
    if (emit === 'update' && this.updateDue(lastUpdate, t)) {
      updates++;
      lastUpdate = t;
      this.emitRecord(key, start, end, acc, false, updates);
    }
    let at = kept.length;
    while (at > 0 && (kept[at - 1] as OpenWindow).start > start) at--;
    kept.splice(at, 0, { start, end, acc, updates, lastUpdate });
    this.windows.put(key, kept);
    this.schedule(`x:${start}:${key}`, end + gap + 1 + graceMs, [key, start]);
  }

  /** Whether an update may be emitted at `t` (rate limit: `updateInterval` of event time after the last one; 0 = always). */
  private updateDue(lastUpdate: number | null, t: number): boolean {
    const interval = this.config.updateIntervalMs;
    return interval === 0 || lastUpdate === null || t >= lastUpdate + interval;
  }

  private schedule(id: string, time: number, data: TimerData): void {
    this.timers.register({ id, time, data });
  }

  private emitRecord(key: string, start: number, end: number, acc: readonly Acc[], final: boolean, n: number): void {
    const output = this.config.output;
    if (!output) return;
    const id = final ? deriveId('aggregate', this.ctx.step, key, start, 'final') : deriveId('aggregate', this.ctx.step, key, start, 'update', n);
    const record: AggregateRecord = { id, key, windowStart: start, windowEnd: end, values: valuesOf(this.config.aggregates, acc, end), final };
    this.ctx.emit(output, record);
  }

  /** Closes every window (sliding: every event time) the watermark has reached, in (close time, id) order; drops expired entries. */
  advance(watermark: number): void {
    const sliding = this.config.window.kind === 'sliding';
    if (this.timers.nextTime() <= watermark) {
      const size = this.config.window.sizeMs;
      this.timers.fireDue(watermark, (timer) => {
        const [key, at] = timer.data;
        if (sliding) {
          this.closeSliding(key, at);
          return;
        }
        const list = this.windows.get(key);
        const i = list ? list.findIndex((w) => w.start === at) : -1;
        if (!list || i < 0) return;
        const state = list[i] as OpenWindow;
        if (list.length === 1) this.windows.delete(key);
        else this.windows.put(key, list.filter((_, n) => n !== i));
        this.emitRecord(key, at, state.end ?? at + size, state.acc, true, 0);
      });
    }
    if (sliding) this.entries.expire(watermark);
  }

  /** The final record of `(at − size, at]`: the final window moves forward to `at`; entries no window needs any more are dropped. */
  private closeSliding(key: string, at: number): void {
    const old = this.entries.get(key);
    if (!old) return;
    // Changed in place and put back below, in this call (see `immutableState`).
    const state = current(old);
    const { aggregates, graceMs } = this.config;
    const size = this.config.window.sizeMs;
    const c = state.c;
    let f = state.f;
    if (f === null || at - size >= f.t || at < f.t) f = buildRunning(aggregates, c, size, at);
    else if (f.t < at) moveRunning(aggregates, c, size, f, at);
    state.f = f;
    this.emitRecord(key, at - size, at, f.acc, true, 0);
    // Every later window (finals after `at`, the head window, new events) starts after at − size.
    const drop = upperBound(state.ts, at - size);
    if (drop > 0) state.ts.splice(0, drop);
    const dropC = upperBound(c.ts, at - size);
    if (dropC > 0) {
      c.ts.splice(0, dropC);
      c.cs.splice(0, dropC);
    }
    const k = state.p.indexOf(at);
    if (k >= 0) state.p.splice(k, 1);
    const next = state.p[0];
    if (next !== undefined && k === 0) this.schedule(`s:${next}:${key}`, next + 1 + graceMs, [key, next]);
    this.entries.put(key, state, { expiresAt: state.until });
  }

  /**
   * The key's values in the window that contains `t` (sliding: `(t − size, t]`; hopping: the
   * earliest-starting open window containing `t`), or undefined when the key has no open
   * window there.
   */
  valuesAt(key: string, t: number): CurrentValues | undefined {
    return readValuesAt(this.config, { windows: this.windows, entries: this.entries }, key, t);
  }

  /** The key's current values: the window of its latest event (the query API). */
  current(key: string): CurrentValues | undefined {
    return windowAggregateQuery(this.config, { windows: this.windows, entries: this.entries }, key);
  }
}

/**
 * The accumulators of `(t − size, t]` without changing the state: a copy of the final window
 * moved forward when it is at or before `t` (an out-of-order event is after the last final
 * record), else a fold of the window.
 */
function slidingAt(aggregates: readonly ResolvedAggregate[], state: SlidingState, size: number, t: number): Running {
  if (state.f?.t === t) return state.f;
  if (state.f === null || state.f.t > t || t - size >= state.f.t) return buildRunning(aggregates, state.c, size, t);
  const run = cloneRunning(state.f);
  moveRunning(aggregates, state.c, size, run, t);
  return run;
}

/** Inserts `x` at `i` (an append when `i` is the length). */
function insertAt<T>(list: T[], i: number, x: T): void {
  if (i === list.length) list.push(x);
  else list.splice(i, 0, x);
}

/** A key's value as written before contributions were kept apart (`cs` parallel to `ts`). */
interface SlidingStateV1 extends Omit<SlidingState, 'c'> {
  c?: undefined;
  cs: SlidingEntry[];
}

/**
 * The value in the current layout: one written by the earlier layout (`cs`, one contribution
 * list per entry) is read into a new object, the stored one left as it is.
 */
function current(state: SlidingState | SlidingStateV1): SlidingState {
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
function checkLayout(store: string, key: unknown): void {
  if (typeof key !== 'string') {
    throw new Error(`${store}: state written by an older windowAggregate layout (key ${JSON.stringify(key)}); delete the state directory (or reset the changelog) and replay the input`);
  }
}

/** The stores the query API reads. */
export interface WindowAggregateStores {
  windows: KeyValueStore<string, OpenWindow[]>;
  entries: KeyValueStore<string, SlidingState>;
}

function readValuesAt(config: WindowAggregateConfig, stores: WindowAggregateStores, key: string, t: number): CurrentValues | undefined {
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

function positive(option: string, value: Duration, example: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (e) {
    throw new Error(`${option}: ${(e as Error).message}`, { cause: e });
  }
  if (ms <= 0) throw new Error(`${option}: ${JSON.stringify(value)} must be longer than 0 (e.g. ${example})`);
  return ms;
}

function resolveWindow(w: WindowSpec | undefined): WindowAggregateConfig['window'] {
  if (w === undefined || w === null || typeof w !== 'object') throw new Error('window: required, one of { tumbling: 1h }, { hopping: 1h, advance: 15m }, { sliding: 90d }, { session: 30m }');
  const kinds = (['tumbling', 'hopping', 'sliding', 'session'] as const).filter((k) => k in w);
  if (kinds.length !== 1) throw new Error(`window: give exactly one of tumbling, hopping, sliding, session (got ${kinds.join(', ') || 'none'})`);
  if ('tumbling' in w) {
    const size = positive('window.tumbling', w.tumbling, '1h');
    return { kind: 'tumbling', sizeMs: size, advanceMs: size };
  }
  if ('hopping' in w) {
    const size = positive('window.hopping', w.hopping, '1h');
    const adv = positive('window.advance', w.advance, '15m');
    if (adv > size) throw new Error(`window.advance: ${JSON.stringify(w.advance)} is longer than the window (${JSON.stringify(w.hopping)}); use an advance ≤ the size`);
    return { kind: 'hopping', sizeMs: size, advanceMs: adv };
  }
  if ('session' in w) {
    const gap = positive('window.session', w.session, '30m');
    return { kind: 'session', sizeMs: gap, advanceMs: gap };
  }
  const size = positive('window.sliding', w.sliding, '90d');
  return { kind: 'sliding', sizeMs: size, advanceMs: size };
}

const STREAM = '^[a-z][a-z0-9-]*$';

/** The `windowAggregate` operator definition (registry entry). */
export const windowAggregateOperator = defineOperator<WindowAggregateOptions, WindowAggregateConfig>({
  name: 'windowAggregate',
  summary: 'named aggregates (count, sum, min, max, avg, first, last, countDistinct, topK, rfm) per key over tumbling, hopping, sliding or session event-time windows',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['window', 'aggregates'],
    properties: {
      key: {
        description: 'aggregation key: a field path or list of paths, first non-null wins (default [personId, anonymousId, userId])',
        oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
      },
      window: {
        description: 'one of { tumbling: 1h }, { hopping: 1h, advance: 15m }, { sliding: 90d }, { session: 30m }',
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['tumbling'], properties: { tumbling: { type: 'string', pattern: DURATION_PATTERN } } },
          { type: 'object', additionalProperties: false, required: ['hopping', 'advance'], properties: { hopping: { type: 'string', pattern: DURATION_PATTERN }, advance: { type: 'string', pattern: DURATION_PATTERN } } },
          { type: 'object', additionalProperties: false, required: ['sliding'], properties: { sliding: { type: 'string', pattern: DURATION_PATTERN } } },
          { type: 'object', additionalProperties: false, required: ['session'], properties: { session: { type: 'string', pattern: DURATION_PATTERN } } },
        ],
      },
      grace: { description: 'extra event time after a window end before it closes (default 0ms)', type: 'string', pattern: DURATION_PATTERN },
      aggregates: { description: 'aggregates by name', type: 'object', minProperties: 1, additionalProperties: aggregateSchema(conditionSchema) },
      emit: { description: 'final (default): one record per closed window; update: also a record per change', enum: ['final', 'update'] },
      updateInterval: { description: 'with emit: update, at most one update per key and window per this much event time (default 0ms)', type: 'string', pattern: DURATION_PATTERN },
      output: { description: 'stream receiving the aggregate records', type: 'string', pattern: STREAM },
      annotate: { description: 'field added to each passing event with the key current values', type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      name: { description: 'step name (default windowAggregate)', type: 'string', pattern: STREAM },
    },
  },
  resolve(options) {
    const aggregates = options.aggregates;
    if (aggregates === null || typeof aggregates !== 'object' || Object.keys(aggregates).length === 0) throw new Error('aggregates: required, e.g. { orders: { count: {} } }');
    const grace = options.grace === undefined ? 0 : parseDuration(options.grace);
    return {
      key: options.key === undefined ? ['personId', 'anonymousId', 'userId'] : Array.isArray(options.key) ? options.key : [options.key],
      window: resolveWindow(options.window),
      graceMs: grace,
      aggregates: Object.entries(aggregates).map(([name, spec]) => resolveAggregate(name, spec)),
      emit: options.emit ?? 'final',
      updateIntervalMs: options.updateInterval === undefined ? 0 : parseDuration(options.updateInterval),
      output: options.output,
      annotate: options.annotate,
    };
  },
  keyPaths: (c) => c.key,
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'aggregates', key: ['key'] }] : []),
  // Timers are in memory, rebuilt from these when the logic is created.
  stores: () => ['windows', 'entries'],
  query: (c, store, key) => windowAggregateQuery(c, { windows: store('windows'), entries: store('entries') }, key),
  create: (c, ctx) => new WindowAggregateLogic(c, ctx),
  // Stored values are replaced, or (sliding) changed in place and put back in the same call.
  immutableState: true,
});

/**
 * `windowAggregate` as a pipeable RxJS operator: events pass through (annotated when
 * `annotate` is set); aggregate records go to `outputs.aggregates` (or the stream named by
 * `output`); late events go to `outputs.late`.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowAggregate } from 'tributary/operators';
 * from(events)
 *   .pipe(windowAggregate({ key: 'userId', window: { tumbling: '1h' }, aggregates: { views: { count: {} } }, outputs: { aggregates: (r) => console.log(r) } }))
 *   .subscribe();
 * ```
 */
export function windowAggregate(options: WindowAggregateOptions & RxWiringOptions): OperatorFunction<TributaryEvent, TributaryEvent> {
  const output = options.output ?? (options.outputs?.aggregates ? 'aggregates' : undefined);
  return keyedOperator(windowAggregateOperator, { ...options, output });
}

/** Store value types, for reading a step's stores from outside (`driver.store`): both stores are keyed by the operator key. */
export type { OpenWindow as WindowAggregateWindows, SlidingState as WindowAggregateEntries };

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    windowAggregate: WindowAggregateOptions;
  }
}
