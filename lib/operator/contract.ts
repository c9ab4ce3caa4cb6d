/**
 * The operator contract: the per-key logic of an operator is a plain object with its store,
 * timers and clock handed in ({@link OperatorLogic}); the wiring (the RxJS operator in
 * `rx.ts`, the task in `lib/runtime/task.ts`, later the Kafka task) is thin and shared.
 */
import type { TributaryEvent } from '../event/event.js';
import type { ForgetOutcome, ForgetSubject } from './forget.js';
import type { KeyValueStore, StoreKey } from '../state/store.js';
import type { Clock } from '../time/clock.js';

export type { ForgetOutcome, ForgetSubject, SubjectIdentifier } from './forget.js';

/** See {@link OperatorDefinition.partitioning}. */
export type Partitioning = 'key' | 'any' | 'global' | 'global-table';

/** A derived record written to a named output stream. Every derived record carries a deterministic id. */
export type DerivedRecord = Record<string, unknown>;

/** What the wiring hands an operator instance. */
export interface OperatorContext {
  /** Pipeline name (the Kafka application id). */
  readonly pipeline: string;
  /** Step name, unique in the pipeline (e.g. `dedupe`). */
  readonly step: string;
  readonly clock: Clock;
  /** A state store of this step; names are per step (`seen` → store `dedupe.seen`). */
  store<K extends StoreKey, V>(name: string): KeyValueStore<K, V>;
  /**
   * Writes a derived record to the named output stream. `dead-letter` is allowed without
   * declaring it: `{ reason, detail, raw, source }` (a step rejecting an event, e.g. validate).
   */
  emit(stream: string, record: DerivedRecord): void;
  /** Counts an event the step consumed without passing it on. */
  drop(reason: string): void;
  /**
   * Counts an outcome that is not a drop (a suppressed trigger, a refused link), by name. With
   * `rule` (a trigger rule's name), `fired` counts a record the rule emitted and
   * `suppressed-<reason>` one it did not, in the trigger metrics (`fired` only there).
   */
  count(outcome: string, rule?: string): void;
  /** The watermark of this step's input. */
  watermark(): number;
  /**
   * The event with `field` set to `value`, the way a step annotates what it passes on
   * (`personId`, `sessionId`). A runtime that owns the event (the task: it made it when it
   * normalised the input) sets the field in place; otherwise it is a copy, so an event handed in
   * by user code is never changed. Either way a new field comes last and an existing one keeps
   * its place, so the written record is the same.
   */
  annotate<E extends TributaryEvent>(event: E, field: string, value: unknown): E;
}

/** {@link OperatorContext.annotate} for a wiring that does not own the events: a copy. */
export function annotatedCopy<E extends TributaryEvent>(event: E, field: string, value: unknown): E {
  // A copy then a set: a third cheaper than `{ ...event, [field]: value }` (the computed key makes
  // V8 build the literal slowly). An own `__proto__` must stay a data property, as in the literal.
  const copy: Record<string, unknown> = { ...event };
  if (field === '__proto__') Object.defineProperty(copy, field, { value, enumerable: true, writable: true, configurable: true });
  else copy[field] = value;
  return copy as E;
}

/** One operator instance: the per-key logic. */
export interface OperatorLogic {
  /**
   * Handles one event that is not late, for its key (the step's key fields, first non-null).
   * Returns the event to pass downstream (possibly annotated), or `null` after `ctx.drop()`.
   */
  process(event: TributaryEvent, key: string): TributaryEvent | null;
  /** The input watermark advanced to `watermark` (+∞ at end of input): fire timers, expire state. */
  advance?(watermark: number): void;
}

/** See {@link OperatorDefinition.globalTable}. */
export interface GlobalTableHalves<R> {
  /** The stores (short names) every task reads as the global table; the resolver writes them. */
  stores(options: R): string[];
  /** The logic in every task: reads `table`, hands what it cannot settle to the resolver (and drops it). */
  lookup(options: R, table: <K extends StoreKey, V>(store: string) => KeyValueStore<K, V>, toResolver: (event: TributaryEvent) => void): OperatorLogic;
  /** The logic of the one resolver task: owns every store of the step, passes the events on. */
  resolver(options: R, ctx: OperatorContext): OperatorLogic;
}

/** An output stream an operator writes, as declared by its options. */
export interface OutputDeclaration {
  /** The stream name (also `<out-dir>/<name>.ndjson`, and the default topic suffix). */
  stream: string;
  /** What the records are (`duplicates`, `sessions`, …) — for `describe`. */
  kind: string;
  /**
   * The fields of a record that make its Kafka key (first non-null), e.g. `['key']`. Without
   * one, the key is the record's `key`, else its `personId`, else its `messageId`.
   */
  key?: string[];
}

/** The Kafka key fields of an event written to an output (a copy of an event): its person, else its id. */
export const EVENT_RECORD_KEY = ['personId', 'messageId'];

/**
 * An operator as the pipeline compiler sees it. `O` is its options as written (validated
 * against `optionsSchema`); `R` the resolved options (defaults applied, durations parsed).
 */
export interface OperatorDefinition<O = unknown, R = O> {
  /** The key used in pipeline definitions (`dedupe`). */
  readonly name: string;
  /** One line for `describe` and `--help`. */
  readonly summary: string;
  /** JSON Schema (draft-07) of the options object; becomes part of the pipeline schema. */
  readonly optionsSchema: Record<string, unknown>;
  /** Applies defaults and parses durations; throws an Error whose message names the option and the fix. */
  resolve(options: O): R;
  /** The key fields (first non-null wins), or `undefined` for a stateless step. */
  keyPaths(options: R): string[] | undefined;
  /**
   * What the step's state needs of the partitioning (the Kafka runtime splits sub-topologies by
   * it): `key` (default for keyed steps) — all events of a key in one task, so a repartition
   * topic when the stream is keyed otherwise; `any` — correct under the upstream partitioning
   * (dedupe by messageId: copies are identical events, so they already share a partition);
   * `global` — one state for all keys, in one task behind a single-partition topic;
   * `global-table` — one state for all keys, read in every task from a global table and changed
   * by one resolver task (joinIdentity `mode: global-table`; the runtime knows the operator).
   */
  partitioning?(options: R): Partitioning;
  /** The two halves of a `global-table` step (the Kafka runtime's; embedded runs use {@link create}). */
  globalTable?: GlobalTableHalves<R>;
  /** The output streams it writes. */
  outputs(options: R): OutputDeclaration[];
  /** The state stores it uses (names within the step). */
  stores(options: R): string[];
  create(options: R, ctx: OperatorContext): OperatorLogic;
  /**
   * Reads a key's current state for outside readers (the state endpoint, `GET /state/<step>/<key>`),
   * from the step's stores (`store(name)` opens `<step>.<name>`); `undefined` when there is none.
   * `watermark` is the one the step's logic last advanced to (−∞ before any): state whose expiry
   * it passed is gone for the logic even when a store still holds it (expired lazily), so a query
   * leaves it out too. The result is JSON data with a documented shape (named fields, times as
   * epoch ms), never the stored encoding. Reads only.
   */
  query?(options: R, store: <K extends StoreKey, V>(name: string) => KeyValueStore<K, V>, key: string, watermark: number): unknown;
  /**
   * Removes the subject of an erasure request from the step's stores, and says who later steps
   * must forget (joinIdentity widens the subject to every identifier and person id of the
   * person). Default: {@link scrubStores} over every store (an entry whose key or value mentions
   * an identifier value or person id of the subject is deleted). The runtime re-creates the
   * step's logic afterwards, so timers and in-memory indexes are rebuilt from what is left.
   */
  forget?(options: R, store: <K extends StoreKey, V>(name: string) => KeyValueStore<K, V>, subject: ForgetSubject): ForgetOutcome;
  /**
   * The logic never changes a value it read from or wrote to a store, except to `put` it back in
   * the same `process`/`advance` call (dedupe appends to its open segment that way). Stores then
   * hand out and keep the logic's own objects without copying them (the caching layer and the
   * memory store); otherwise they copy on every `get` and `put`. Default false.
   */
  readonly immutableState?: boolean;
}

/** Operators by pipeline key. `lib` never imports `operators/`: the registry is handed in. */
export type OperatorRegistry = ReadonlyMap<string, OperatorDefinition<never, never>>;

/** Helper to declare an operator with its types checked. */
export function defineOperator<O, R>(def: OperatorDefinition<O, R>): OperatorDefinition<O, R> {
  return def;
}

/**
 * Declares a stateless operator (no key, no stores, values never mutated): filter, map, mask…
 * `outputs` defaults to none.
 *
 * @example
 * ```ts
 * export const upperOperator = defineStatelessOperator<{ name?: string }, object>({
 *   name: 'upper', summary: '…', optionsSchema: { type: 'object' }, resolve: (o) => o,
 *   create: () => ({ process: (e) => ({ ...e, event: e.event?.toUpperCase() }) }),
 * });
 * ```
 */
export function defineStatelessOperator<O, R>(
  def: Omit<OperatorDefinition<O, R>, 'keyPaths' | 'stores' | 'outputs' | 'immutableState'> & Partial<Pick<OperatorDefinition<O, R>, 'outputs'>>,
): OperatorDefinition<O, R> {
  return { keyPaths: () => undefined, stores: () => [], outputs: () => [], immutableState: true, ...def };
}
