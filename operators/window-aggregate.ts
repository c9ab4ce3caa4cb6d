/**
 * `windowAggregate` (SPEC §4.4): named aggregates per key over event-time windows. Events pass
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
 * State, only through the store interface (a restart from LMDB resumes exactly):
 * `windows` holds `[key, start] → WindowState` for open tumbling/hopping/session windows (deleted when
 * they close); `entries` holds, for sliding windows, `[key, t, seq] → contributions` written
 * with `expiresAt = t + size + grace` (after that no record can include it) and `meta` holds
 * per key the arrival counter and update bookkeeping (expiring with the key's last entry);
 * `timers` holds one close timer per open window (sliding: per distinct event time).
 */
import type { OperatorFunction } from 'rxjs';
import { conditionSchema } from '../lib/condition/condition.js';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { aggregateSchema, contributions, fold, initial, merge, resolveAggregate, valuesOf, type Acc, type AggregateSpec, type ResolvedAggregate } from './aggregates/accumulators.js';
import type { KeyValueStore } from '../lib/state/store.js';
import type { TimerService } from '../lib/time/timers.js';
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

/** An open tumbling/hopping/session window as stored at `[key, start]`. */
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

/** A sliding-window entry: one per event, the values it contributes as `[aggregate index, value]`. */
export type SlidingEntry = Array<[number, unknown]>;

/** Per-key bookkeeping of sliding windows. */
export interface SlidingMeta {
  seq: number;
  updates: number;
  lastUpdate: number | null;
  /** The latest expiry of the key's entries. */
  until: number;
}

/** A record of the aggregates output (SPEC §4.7). */
export interface AggregateRecord extends DerivedRecord {
  id: string;
  key: string;
  windowStart: number;
  windowEnd: number;
  values: Record<string, unknown>;
  final: boolean;
}

type WindowKey = readonly [string, number];
type EntryKey = readonly [string, number, number];

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
  private readonly windows: KeyValueStore<WindowKey, WindowState>;
  private readonly entries: KeyValueStore<EntryKey, SlidingEntry>;
  private readonly meta: KeyValueStore<string, SlidingMeta>;
  private readonly timers: TimerService<WindowKey>;
  /** Lower bound of the earliest pending timer (memory only, −∞ after a restart). */
  private nextDue = -Infinity;

  constructor(private readonly config: WindowAggregateConfig, private readonly ctx: OperatorContext) {
    this.windows = ctx.store<WindowKey, WindowState>('windows');
    this.entries = ctx.store<EntryKey, SlidingEntry>('entries');
    this.meta = ctx.store<string, SlidingMeta>('meta');
    this.timers = ctx.timers<WindowKey>();
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    const t = event.timestamp;
    const contrib = contributions(this.config.aggregates, event);
    const kind = this.config.window.kind;
    if (kind === 'sliding') this.processSliding(t, key, contrib);
    else if (kind === 'session') this.processSession(t, key, contrib);
    else this.processFixed(t, key, contrib);
    const field = this.config.annotate;
    if (field === undefined) return event;
    return { ...event, [field]: this.valuesAt(key, t)?.values ?? valuesOf(this.config.aggregates, this.config.aggregates.map((a) => initial(a)), t) };
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
    for (const start of this.startsOf(t)) {
      const end = start + this.config.window.sizeMs;
      let state = this.windows.get([key, start]);
      if (!state) {
        state = { acc: aggregates.map((a) => initial(a)), updates: 0, lastUpdate: null };
        this.schedule(`w:${start}:${key}`, end + graceMs, [key, start]);
      }
      let acc = state.acc;
      if (contrib.length > 0) {
        acc = acc.slice();
        for (const [i, v] of contrib) acc[i] = fold(aggregates[i] as ResolvedAggregate, acc[i] as Acc, t, v);
      }
      let { updates, lastUpdate } = state;
      if (emit === 'update' && this.updateDue(lastUpdate, t)) {
        updates++;
        lastUpdate = t;
        this.emitRecord(key, start, end, acc, false, updates);
      }
      this.windows.put([key, start], { acc, updates, lastUpdate });
    }
  }

  private processSliding(t: number, key: string, contrib: SlidingEntry): void {
    const { sizeMs: size } = this.config.window;
    const { graceMs, emit } = this.config;
    const meta = this.meta.get(key) ?? { seq: 0, updates: 0, lastUpdate: null, until: -Infinity };
    const seq = meta.seq + 1;
    const expiresAt = t + size + graceMs;
    this.entries.put([key, t, seq], contrib, { expiresAt });
    let { updates, lastUpdate } = meta;
    if (emit === 'update' && this.updateDue(lastUpdate, t)) {
      updates++;
      lastUpdate = t;
      this.emitRecord(key, t - size, t, this.slidingAcc(key, t), false, updates);
    }
    // The meta outlives every entry of the key, so a sequence number is never reused while one is stored.
    const until = Math.max(meta.until, expiresAt);
    this.meta.put(key, { seq, updates, lastUpdate, until }, { expiresAt: until });
    this.schedule(`s:${t}:${key}`, t + 1 + graceMs, [key, t]);
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
    const found: Array<{ start: number; state: WindowState }> = [];
    for (const { key: k, value } of this.windows.range({ prefix: [key], end: [key, t + gap, Infinity] })) {
      if ((value.end ?? k[1]) >= t - gap) found.push({ start: k[1], state: value });
    }
    let start = t;
    let end = t;
    let acc: Acc[] = aggregates.map((a) => initial(a));
    let updates = 0;
    let lastUpdate: number | null = null;
    found.forEach(({ start: s, state }, n) => {
      acc = n === 0 ? state.acc.slice() : acc.map((x, i) => merge(aggregates[i] as ResolvedAggregate, x, state.acc[i] as Acc));
      start = Math.min(start, s);
      end = Math.max(end, state.end ?? s);
      this.windows.delete([key, s]);
      this.timers.cancel(`x:${s}:${key}`);
      if (lastUpdate === null || (state.lastUpdate !== null && state.lastUpdate > lastUpdate)) lastUpdate = state.lastUpdate;
    });
    // Update ids are per window start: continue the counter of the session that keeps its start.
    const keeper = found.find((f) => f.start === start);
    if (keeper) updates = keeper.state.updates;
    for (const [i, v] of contrib) acc[i] = fold(aggregates[i] as ResolvedAggregate, acc[i] as Acc, t, v);
    if (emit === 'update' && this.updateDue(lastUpdate, t)) {
      updates++;
      lastUpdate = t;
      this.emitRecord(key, start, end, acc, false, updates);
    }
    this.windows.put([key, start], { end, acc, updates, lastUpdate });
    this.schedule(`x:${start}:${key}`, end + gap + 1 + graceMs, [key, start]);
  }

  /** Accumulators over the key's entries in `(t − size, t]`, folded in (time, arrival) order. */
  private slidingAcc(key: string, t: number): Acc[] {
    const { aggregates } = this.config;
    const acc = aggregates.map((a) => initial(a));
    for (const { key: k, value } of this.entries.range({ start: [key, t - this.config.window.sizeMs + 1], end: [key, t, Infinity] })) {
      for (const [i, v] of value) acc[i] = fold(aggregates[i] as ResolvedAggregate, acc[i] as Acc, k[1], v);
    }
    return acc;
  }

  /** Whether an update may be emitted at `t` (rate limit: `updateInterval` of event time after the last one; 0 = always). */
  private updateDue(lastUpdate: number | null, t: number): boolean {
    const interval = this.config.updateIntervalMs;
    return interval === 0 || lastUpdate === null || t >= lastUpdate + interval;
  }

  private schedule(id: string, time: number, data: WindowKey): void {
    this.timers.register({ id, time, data });
    if (time < this.nextDue) this.nextDue = time;
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
    if (watermark >= this.nextDue) {
      const sliding = this.config.window.kind === 'sliding';
      const size = this.config.window.sizeMs;
      this.timers.fireDue(watermark, (timer) => {
        const [key, at] = timer.data;
        if (sliding) {
          this.emitRecord(key, at - size, at, this.slidingAcc(key, at), true, 0);
          return;
        }
        const state = this.windows.get([key, at]);
        if (!state) return;
        this.windows.delete([key, at]);
        this.emitRecord(key, at, state.end ?? at + size, state.acc, true, 0);
      });
      this.nextDue = this.timers.next()?.time ?? Infinity;
    }
    if (this.config.window.kind === 'sliding') {
      this.entries.expire(watermark);
      this.meta.expire(watermark);
    }
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

/** The stores the query API reads. */
export interface WindowAggregateStores {
  windows: KeyValueStore<WindowKey, WindowState>;
  entries: KeyValueStore<EntryKey, SlidingEntry>;
}

function readValuesAt(config: WindowAggregateConfig, stores: WindowAggregateStores, key: string, t: number): CurrentValues | undefined {
  const { kind, sizeMs: size, advanceMs: adv } = config.window;
  if (kind === 'sliding') {
    const acc = config.aggregates.map((a) => initial(a));
    let any = false;
    for (const { key: k, value } of stores.entries.range({ start: [key, t - size + 1], end: [key, t, Infinity] })) {
      any = true;
      for (const [i, v] of value) acc[i] = fold(config.aggregates[i] as ResolvedAggregate, acc[i] as Acc, k[1], v);
    }
    return any ? { windowStart: t - size, windowEnd: t, values: valuesOf(config.aggregates, acc, t) } : undefined;
  }
  if (kind === 'session') {
    for (const { key: k, value } of stores.windows.range({ prefix: [key], start: [key, t, Infinity], reverse: true, limit: 1 })) {
      const end = value.end ?? k[1];
      if (end >= t) return { windowStart: k[1], windowEnd: end, values: valuesOf(config.aggregates, value.acc, end) };
    }
    return undefined;
  }
  const last = Math.floor(t / adv) * adv;
  for (const { key: k, value } of stores.windows.range({ start: [key, last - size + 1], end: [key, last, Infinity] })) {
    const start = k[1];
    if (start + size > t) return { windowStart: start, windowEnd: start + size, values: valuesOf(config.aggregates, value.acc, start + size) };
  }
  return undefined;
}

/**
 * The query API: a key's current values, read from the step's stores while the pipeline runs
 * (the window of the key's latest event: sliding `(latest − size, latest]`, else the
 * earliest-starting open window containing the latest window start). Undefined when the key
 * has no open window or no retained entries.
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
    for (const { key: k } of stores.entries.range({ prefix: [key], start: [key, Infinity], reverse: true, limit: 1 })) return readValuesAt(config, stores, key, k[1]);
    return undefined;
  }
  for (const { key: k } of stores.windows.range({ prefix: [key], start: [key, Infinity], reverse: true, limit: 1 })) {
    return readValuesAt(config, stores, key, k[1]);
  }
  return undefined;
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
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'aggregates' }] : []),
  stores: () => ['windows', 'entries', 'meta', 'timers'],
  query: (c, store, key) => windowAggregateQuery(c, { windows: store('windows'), entries: store('entries') }, key),
  create: (c, ctx) => new WindowAggregateLogic(c, ctx),
  // Stored window states, entries and accumulators are replaced, never modified in place.
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

/** Store key types, for reading a step's stores from outside (`driver.store`). */
export type { WindowKey as WindowAggregateWindowKey, EntryKey as WindowAggregateEntryKey };

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    windowAggregate: WindowAggregateOptions;
  }
}
