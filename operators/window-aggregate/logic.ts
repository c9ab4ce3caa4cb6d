/**
 * The per-key logic of `windowAggregate` ({@link WindowAggregateLogic}): its windows in event
 * time, its state and its close timers. Wired by operators/window-aggregate.ts.
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
 *   to 1000 values, then HyperLogLog, ≈1.6 % standard error), `topK` (Space-Saving, exact up to
 *   `capacity` distinct values), `rfm` — are specified in `aggregates/accumulators.ts`.
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
 */
import type { OperatorContext, DerivedRecord, OperatorLogic } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import { contributions, fold, initial, merge, valuesOf, type Acc, type ResolvedAggregate } from '../aggregates/accumulators.js';
import type { KeyValueStore } from '../../lib/state/store.js';
import { MemoryTimers } from '../../lib/time/timers.js';
import { buildRunning, insertIntoRunning, moveRunning, type Running } from '../aggregates/sliding.js';
import { addEntry, bucketWidth, ChunkView, dropAll, dropThrough, insertAt, type Chunk, type ChunkStore } from './chunks.js';
import type { WindowAggregateConfig } from './options.js';
import { readValuesAt, windowAggregateQuery, type CurrentValues } from './query.js';
import { RunningWindows } from './running.js';
import { checkLayout, isCurrent, slidingAt, type OpenWindow, type SlidingEntry, type SlidingState, type StoredSliding, type TimedChunk } from './state.js';
import { upgradeSliding } from './upgrade.js';

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
  private readonly entries: KeyValueStore<string, StoredSliding>;
  private readonly chunks: ChunkStore;
  /** Close timers, rebuilt from the stores when the logic is created (they hold all it needs). */
  private readonly timers = new MemoryTimers<TimerData>();
  /** Sliding: keep the head window (for `emit: update` and `annotate`). */
  private readonly head: boolean;
  /** Sliding: the keys' running windows, in memory (derived from their entries). */
  private readonly running = new RunningWindows();

  constructor(private readonly config: WindowAggregateConfig, private readonly ctx: OperatorContext) {
    this.windows = ctx.store<string, OpenWindow[]>('windows');
    this.entries = ctx.store<string, StoredSliding>('entries');
    this.chunks = ctx.store<readonly [string, number], Chunk>('chunks');
    this.head = config.emit === 'update' || config.annotate !== undefined;
    const { kind, sizeMs: size } = config.window;
    const grace = config.graceMs;
    // One pass over the state (restored by a Kafka task, or reopened from LMDB): a pending
    // close timer per open window, and per key its earliest pending sliding final.
    if (kind === 'sliding') {
      const earlier: string[] = [];
      for (const { key, value } of this.entries.range()) {
        checkLayout(this.entries.name, key);
        if (!isCurrent(value)) earlier.push(key);
        const at = value.p[0];
        if (at !== undefined) this.timers.register({ id: `s:${key}`, time: at + 1 + grace, data: [key, at] });
        this.timers.register({ id: `z:${key}`, time: value.until, data: [key, value.until] });
      }
      for (const key of earlier) this.upgrade(key);
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

  /** Rewrites a key's value of an earlier layout, and its buckets, in the current layout. */
  private upgrade(key: string): void {
    const stored = this.entries.get(key) as Exclude<StoredSliding, SlidingState>;
    const { state, chunks, stale } = upgradeSliding(stored, bucketWidth(this.config.window.sizeMs), (start) => this.chunks.get([key, start]) as unknown as TimedChunk);
    for (const start of stale) this.chunks.delete([key, start]);
    for (const [start, chunk] of chunks) this.chunks.put([key, start], chunk);
    this.entries.put(key, state);
  }

  /** The key's entries, read through its buckets. */
  private view(state: SlidingState, key: string): ChunkView {
    return new ChunkView(state, (start) => this.chunks.get([key, start]) as Chunk);
  }

  /**
   * Adds the event's entry to its key's state and schedules its final record; returns the
   * accumulators of `(t − size, t]` when they are needed (`emit: update`, `annotate`).
   */
  private processSliding(t: number, key: string, contrib: SlidingEntry): Acc[] | undefined {
    const { aggregates, graceMs, emit } = this.config;
    const size = this.config.window.sizeMs;
    // The key's value is changed in place and put back below, in this call (see `immutableState`).
    const state = (this.entries.get(key) as SlidingState | undefined) ?? { w: bucketWidth(size), b: [], m: [], l: null, lt: -Infinity, p: [], updates: 0, lastUpdate: null, until: -Infinity };
    const run = this.running.of(key, state);
    const j = addEntry(state, this.chunks, key, t, contrib);
    // Not late, so after the last final record; if not (a replay), fold that window afresh.
    if (run.f !== null && t <= run.f.t) run.f = null;
    let acc: Acc[] | undefined;
    if (this.head) {
      const list = this.view(state, key);
      const h = run.h;
      // The head window ends at the key's latest event: after a restart (no `h` yet) that may
      // be later than this one.
      if (h === null) run.h = buildRunning(aggregates, list, size, list.latest() as number);
      else if (t - size >= h.t && t > h.t) run.h = buildRunning(aggregates, list, size, t);
      else if (t > h.t) moveRunning(aggregates, list, size, h, t);
      else if (t > h.t - size && j >= 0) insertIntoRunning(aggregates, list, size, h, j);
      acc = (run.h as Running).t === t ? (run.h as Running).acc : slidingAt(aggregates, run.f, list, size, t).acc;
    }
    const p = state.p;
    let k = p.length;
    while (k > 0 && (p[k - 1] as number) > t) k--;
    if (k === 0 || p[k - 1] !== t) {
      insertAt(p, k, t);
      if (k === 0) {
        // One final timer per key, at its earliest pending time: moved there (timers of one time
        // fire in key order, as the ids `s:<t>:<key>` of earlier versions ordered them).
        this.schedule(`s:${key}`, t + 1 + graceMs, [key, t]);
      }
    }
    if (emit === 'update' && this.updateDue(state.lastUpdate, t)) {
      state.updates++;
      state.lastUpdate = t;
      this.emitRecord(key, t - size, t, acc as Acc[], false, state.updates);
    }
    // The value outlives every entry of the key, so the update counter lives as long as one does.
    // At `until` the key's value and what is left of its buckets are deleted (timer `z:`, which
    // sorts after a final record due at the same time; set once, moved when it fires early).
    if (state.until === -Infinity) this.schedule(`z:${key}`, t + size + graceMs, [key, t + size + graceMs]);
    state.until = Math.max(state.until, t + size + graceMs);
    this.entries.put(key, state);
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
          if (timer.id.startsWith('z:')) this.forgetSliding(key, at);
          else this.closeSliding(key, at);
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
  }

  /** The watermark reached `at`: when that is the key's `until` (its last entry is `size + grace` behind), its value and buckets go; else the timer moves there. */
  private forgetSliding(key: string, at: number): void {
    const state = this.entries.get(key);
    if (!state) return;
    if (state.until > at) {
      this.schedule(`z:${key}`, state.until, [key, state.until]);
      return;
    }
    dropAll(state as SlidingState, this.chunks, key);
    this.entries.delete(key);
    this.running.delete(key);
  }

  /** The final record of `(at − size, at]`: the final window moves forward to `at`; entries no window needs any more are dropped. */
  private closeSliding(key: string, at: number): void {
    // Changed in place and put back below, in this call (see `immutableState`).
    const state = this.entries.get(key) as SlidingState | undefined;
    if (!state) return;
    const { aggregates, graceMs } = this.config;
    const size = this.config.window.sizeMs;
    const list = this.view(state, key);
    const run = this.running.of(key, state);
    let f = run.f;
    if (f === null || at - size >= f.t || at < f.t) f = buildRunning(aggregates, list, size, at);
    else if (f.t < at) moveRunning(aggregates, list, size, f, at);
    run.f = f;
    this.emitRecord(key, at - size, at, f.acc, true, 0);
    // Every later window (finals after `at`, the head window, new events) starts after at − size.
    dropThrough(state, this.chunks, key, at - size);
    const k = state.p.indexOf(at);
    if (k >= 0) state.p.splice(k, 1);
    const next = state.p[0];
    if (next !== undefined && k === 0) this.schedule(`s:${key}`, next + 1 + graceMs, [key, next]);
    this.entries.put(key, state);
  }

  /**
   * The key's values in the window that contains `t` (sliding: `(t − size, t]`; hopping: the
   * earliest-starting open window containing `t`), or undefined when the key has no open
   * window there (sliding: neither its latest event nor an event that counts is in it; see
   * `readValuesAt`).
   */
  valuesAt(key: string, t: number): CurrentValues | undefined {
    return readValuesAt(this.config, { windows: this.windows, entries: this.entries, chunks: this.chunks }, key, t, this.running.peek(key));
  }

  /** @internal The key's running windows if kept in memory (tests write them into a value as earlier versions stored it). */
  runningOf(key: string): { f: Running | null; h: Running | null } | undefined {
    return this.running.peek(key);
  }

  /** The key's current values: the window of its latest event (the query API). */
  current(key: string): CurrentValues | undefined {
    return windowAggregateQuery(this.config, { windows: this.windows, entries: this.entries, chunks: this.chunks }, key, this.running.peek(key));
  }
}
