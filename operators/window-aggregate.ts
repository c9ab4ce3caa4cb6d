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
 * - **Closing.** A tumbling or hopping window `[start, end)` closes when the watermark reaches
 *   `end + grace` (`grace` default 0). A sliding record for `t` is final when the watermark
 *   reaches `t + 1 + grace` (then no event at or before `t` can still arrive). Late events never
 *   reach the operator (the task routes them to `late`), so closing never changes a result;
 *   `grace` only delays closing (lateness itself is the source's `allowedLateness`). End of
 *   input (watermark +∞) closes everything.
 * - **Emit.** `final` (default): one record per window when it closes (`final: true`); for
 *   sliding windows one per distinct `(key, event time)`. `update`: in addition, a record
 *   (`final: false`) each time an event changes a window, at most one per `updateInterval` of
 *   event time per key and window (default 0: every event); the final record still comes when
 *   the window closes, so a suppressed update is never lost.
 * - **Aggregates.** Each `name → { <kind>: …, where?: condition }`; `where` (the condition
 *   language of `lib/condition`) selects the events it counts. `count` counts events; `sum`,
 *   `min`, `max`, `avg` read a number at a path (events where it is not a finite number are
 *   skipped; `min`/`max`/`avg` of nothing is `null`, `sum` of nothing 0); `first` / `last` take
 *   the value (any JSON value, missing values skipped) of the earliest / latest event by event
 *   time — the earlier arrival wins a tie for `first`, the later one for `last`.
 * - **Records.** `{ key, windowStart, windowEnd, values: { <name>: value }, final, id }` with
 *   `id = deriveId('aggregate', step, key, windowStart, 'final')` for final records and
 *   `deriveId('aggregate', step, key, windowStart, 'update', n)` for the n-th update (n from 1,
 *   per key and window), so a replay writes the same ids.
 * - **Annotate.** With `annotate: features`, each passing event gets `features: { <name>:
 *   value }`: the values, right after the event, of the window reported by
 *   {@link WindowAggregateLogic.current} for the event's time (sliding: `(t − size, t]`;
 *   tumbling: the window containing `t`; hopping: the earliest-starting window containing `t`,
 *   the one with the most history).
 * - **Duplicates** count twice: put `dedupe` before this step to count each event once.
 *
 * State, only through the store interface (a restart from LMDB resumes exactly):
 * `windows` holds `[key, start] → WindowState` for open tumbling/hopping windows (deleted when
 * they close); `entries` holds, for sliding windows, `[key, t, seq] → contributions` written
 * with `expiresAt = t + size + grace` (after that no record can include it) and `meta` holds
 * per key the arrival counter and update bookkeeping (expiring with the key's last entry);
 * `timers` holds one close timer per open window (sliding: per distinct event time).
 */
import type { OperatorFunction } from 'rxjs';
import { compileCondition, conditionProblems, conditionSchema, type Condition, type Matcher } from '../lib/condition/condition.js';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { getPath, pathProblem } from '../lib/event/paths.js';
import type { KeyValueStore } from '../lib/state/store.js';
import type { TimerService } from '../lib/time/timers.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';

/** A window as written in a pipeline (exactly one kind). */
export type WindowSpec = { tumbling: Duration } | { hopping: Duration; advance: Duration } | { sliding: Duration };

/** One aggregate as written: exactly one kind, plus an optional `where`. */
export type AggregateSpec = (
  | { count: Record<string, never> }
  | { sum: string }
  | { min: string }
  | { max: string }
  | { avg: string }
  | { first: string }
  | { last: string }
) & { where?: Condition };

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

/** The aggregate kinds. */
export const AGGREGATE_KINDS = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last'] as const;
export type AggregateKind = (typeof AGGREGATE_KINDS)[number];

/** A resolved aggregate. */
export interface ResolvedAggregate {
  name: string;
  kind: AggregateKind;
  /** The field path (none for `count`). */
  path: string | undefined;
  where: Matcher | undefined;
}

/** Resolved options. */
export interface WindowAggregateConfig {
  key: string[];
  window: { kind: 'tumbling' | 'hopping' | 'sliding'; sizeMs: number; advanceMs: number };
  graceMs: number;
  aggregates: ResolvedAggregate[];
  emit: 'final' | 'update';
  updateIntervalMs: number;
  output: string | undefined;
  annotate: string | undefined;
}

/** The state of one aggregate (JSON data, replaced on every change, never mutated). */
export type Acc = number | null | { s: number; n: number } | { t: number; v: unknown };

/** An open tumbling/hopping window as stored at `[key, start]`. */
export interface WindowState {
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

function initial(kind: AggregateKind): Acc {
  return kind === 'count' || kind === 'sum' ? 0 : null;
}

/** Folds one value into an accumulator (a new value; the old one is not modified). */
function fold(kind: AggregateKind, acc: Acc, t: number, v: unknown): Acc {
  switch (kind) {
    case 'count':
      return (acc as number) + 1;
    case 'sum':
      return (acc as number) + (v as number);
    case 'min':
      return acc === null || (v as number) < (acc as number) ? (v as number) : acc;
    case 'max':
      return acc === null || (v as number) > (acc as number) ? (v as number) : acc;
    case 'avg': {
      const a = acc as { s: number; n: number } | null;
      return { s: (a?.s ?? 0) + (v as number), n: (a?.n ?? 0) + 1 };
    }
    case 'first': {
      const a = acc as { t: number; v: unknown } | null;
      return a === null || t < a.t ? { t, v } : a;
    }
    case 'last': {
      const a = acc as { t: number; v: unknown } | null;
      return a === null || t >= a.t ? { t, v } : a;
    }
  }
}

function valueOf(kind: AggregateKind, acc: Acc): unknown {
  switch (kind) {
    case 'count':
    case 'sum':
    case 'min':
    case 'max':
      return acc;
    case 'avg': {
      const a = acc as { s: number; n: number } | null;
      return a === null ? null : a.s / a.n;
    }
    case 'first':
    case 'last':
      return acc === null ? null : (acc as { t: number; v: unknown }).v;
  }
}

/** What an event contributes to each aggregate: `[index, value]` for those it counts in. */
function contributions(aggregates: readonly ResolvedAggregate[], event: TributaryEvent): SlidingEntry {
  const out: SlidingEntry = [];
  aggregates.forEach((a, i) => {
    if (a.where && !a.where(event)) return;
    if (a.kind === 'count') {
      out.push([i, 1]);
      return;
    }
    const v = getPath(event, a.path as string);
    if (v === undefined) return;
    if (a.kind !== 'first' && a.kind !== 'last' && (typeof v !== 'number' || !Number.isFinite(v))) return;
    out.push([i, v]);
  });
  return out;
}

function valuesOf(aggregates: readonly ResolvedAggregate[], acc: readonly Acc[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  aggregates.forEach((a, i) => {
    Object.defineProperty(values, a.name, { value: valueOf(a.kind, acc[i] as Acc), enumerable: true, writable: true, configurable: true });
  });
  return values;
}

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
    if (this.config.window.kind === 'sliding') this.processSliding(t, key, contrib);
    else this.processFixed(t, key, contrib);
    const field = this.config.annotate;
    if (field === undefined) return event;
    return { ...event, [field]: this.valuesAt(key, t)?.values ?? valuesOf(this.config.aggregates, this.config.aggregates.map((a) => initial(a.kind))) };
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
        state = { acc: aggregates.map((a) => initial(a.kind)), updates: 0, lastUpdate: null };
        this.schedule(`w:${start}:${key}`, end + graceMs, [key, start]);
      }
      let acc = state.acc;
      if (contrib.length > 0) {
        acc = acc.slice();
        for (const [i, v] of contrib) acc[i] = fold((aggregates[i] as ResolvedAggregate).kind, acc[i] as Acc, t, v);
      }
      let { updates, lastUpdate } = state;
      if (emit === 'update' && (lastUpdate === null || t >= lastUpdate + this.config.updateIntervalMs)) {
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
    if (emit === 'update' && (lastUpdate === null || t >= lastUpdate + this.config.updateIntervalMs)) {
      updates++;
      lastUpdate = t;
      this.emitRecord(key, t - size, t, this.slidingAcc(key, t), false, updates);
    }
    // The meta outlives every entry of the key, so a sequence number is never reused while one is stored.
    const until = Math.max(meta.until, expiresAt);
    this.meta.put(key, { seq, updates, lastUpdate, until }, { expiresAt: until });
    this.schedule(`s:${t}:${key}`, t + 1 + graceMs, [key, t]);
  }

  /** Accumulators over the key's entries in `(t − size, t]`, folded in (time, arrival) order. */
  private slidingAcc(key: string, t: number): Acc[] {
    const { aggregates } = this.config;
    const acc = aggregates.map((a) => initial(a.kind));
    for (const { key: k, value } of this.entries.range({ start: [key, t - this.config.window.sizeMs + 1], end: [key, t, Infinity] })) {
      for (const [i, v] of value) acc[i] = fold((aggregates[i] as ResolvedAggregate).kind, acc[i] as Acc, k[1], v);
    }
    return acc;
  }

  private schedule(id: string, time: number, data: WindowKey): void {
    this.timers.register({ id, time, data });
    if (time < this.nextDue) this.nextDue = time;
  }

  private emitRecord(key: string, start: number, end: number, acc: readonly Acc[], final: boolean, n: number): void {
    const output = this.config.output;
    if (!output) return;
    const id = final ? deriveId('aggregate', this.ctx.step, key, start, 'final') : deriveId('aggregate', this.ctx.step, key, start, 'update', n);
    const record: AggregateRecord = { id, key, windowStart: start, windowEnd: end, values: valuesOf(this.config.aggregates, acc), final };
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
        this.emitRecord(key, at, at + size, state.acc, true, 0);
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
    const acc = config.aggregates.map((a) => initial(a.kind));
    let any = false;
    for (const { key: k, value } of stores.entries.range({ start: [key, t - size + 1], end: [key, t, Infinity] })) {
      any = true;
      for (const [i, v] of value) acc[i] = fold((config.aggregates[i] as ResolvedAggregate).kind, acc[i] as Acc, k[1], v);
    }
    return any ? { windowStart: t - size, windowEnd: t, values: valuesOf(config.aggregates, acc) } : undefined;
  }
  const last = Math.floor(t / adv) * adv;
  for (const { key: k, value } of stores.windows.range({ start: [key, last - size + 1], end: [key, last, Infinity] })) {
    const start = k[1];
    if (start + size > t) return { windowStart: start, windowEnd: start + size, values: valuesOf(config.aggregates, value.acc) };
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
  if (w === undefined || w === null || typeof w !== 'object') throw new Error('window: required, one of { tumbling: 1h }, { hopping: 1h, advance: 15m }, { sliding: 90d }');
  const kinds = (['tumbling', 'hopping', 'sliding'] as const).filter((k) => k in w);
  if (kinds.length !== 1) throw new Error(`window: give exactly one of tumbling, hopping, sliding (got ${kinds.join(', ') || 'none'})`);
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
  const size = positive('window.sliding', (w as { sliding: Duration }).sliding, '90d');
  return { kind: 'sliding', sizeMs: size, advanceMs: size };
}

function resolveAggregate(name: string, spec: AggregateSpec): ResolvedAggregate {
  const at = `aggregates.${name}`;
  if (spec === null || typeof spec !== 'object') throw new Error(`${at}: must be a mapping like { sum: properties.price }`);
  const kinds = AGGREGATE_KINDS.filter((k) => k in spec);
  const kind = kinds[0];
  if (kind === undefined || kinds.length > 1) throw new Error(`${at}: give exactly one of ${AGGREGATE_KINDS.join(', ')} (got ${kinds.join(', ') || 'none'})`);
  let path: string | undefined;
  if (kind !== 'count') {
    const p = (spec as Record<string, unknown>)[kind];
    if (typeof p !== 'string' || p.length === 0) throw new Error(`${at}.${kind}: must be a field path, e.g. properties.price`);
    const problem = pathProblem(p);
    if (problem) throw new Error(`${at}.${kind}: ${problem}`);
    path = p;
  }
  let where: Matcher | undefined;
  if (spec.where !== undefined) {
    const problems = conditionProblems(spec.where);
    if (problems.length > 0) throw new Error(problems.map((p) => (p.startsWith('a condition') ? `${at}.where: ${p}` : `${at}.where.${p}`)).join('; '));
    where = compileCondition(spec.where);
  }
  return { name, kind, path, where };
}

const STREAM = '^[a-z][a-z0-9-]*$';
const aggregateSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    count: { type: 'object', additionalProperties: false, description: 'number of events' },
    sum: { type: 'string', minLength: 1, description: 'sum of a numeric field' },
    min: { type: 'string', minLength: 1, description: 'smallest value of a numeric field (null when none)' },
    max: { type: 'string', minLength: 1, description: 'largest value of a numeric field (null when none)' },
    avg: { type: 'string', minLength: 1, description: 'mean of a numeric field (null when none)' },
    first: { type: 'string', minLength: 1, description: 'value of the field at the earliest event' },
    last: { type: 'string', minLength: 1, description: 'value of the field at the latest event' },
    where: { ...conditionSchema, description: 'only events matching this condition count' },
  },
};

/** The `windowAggregate` operator definition (registry entry). */
export const windowAggregateOperator = defineOperator<WindowAggregateOptions, WindowAggregateConfig>({
  name: 'windowAggregate',
  summary: 'named aggregates (count, sum, min, max, avg, first, last) per key over tumbling, hopping or sliding event-time windows',
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
        description: 'one of { tumbling: 1h }, { hopping: 1h, advance: 15m }, { sliding: 90d }',
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['tumbling'], properties: { tumbling: { type: 'string', pattern: DURATION_PATTERN } } },
          { type: 'object', additionalProperties: false, required: ['hopping', 'advance'], properties: { hopping: { type: 'string', pattern: DURATION_PATTERN }, advance: { type: 'string', pattern: DURATION_PATTERN } } },
          { type: 'object', additionalProperties: false, required: ['sliding'], properties: { sliding: { type: 'string', pattern: DURATION_PATTERN } } },
        ],
      },
      grace: { description: 'extra event time after a window end before it closes (default 0ms)', type: 'string', pattern: DURATION_PATTERN },
      aggregates: { description: 'aggregates by name', type: 'object', minProperties: 1, additionalProperties: aggregateSchema },
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
