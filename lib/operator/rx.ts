/**
 * The RxJS wiring shared by every operator: one small `operate` helper (RxJS 7 keeps its own
 * private) and {@link keyedOperator}, which turns an {@link OperatorDefinition} into a
 * pipeable operator over `Observable<TributaryEvent>` with its own watermark, timers and
 * stores (in memory by default, LMDB when a store factory is given).
 */
import { Observable, type Observer, type OperatorFunction, type Subscriber, type TeardownLogic } from 'rxjs';
import type { TributaryEvent } from '../event/event.js';
import { resolveKey } from '../event/key.js';
import type { StoreFactory, StoreKey } from '../state/store.js';
import { systemClock, type Clock } from '../time/clock.js';
import { parseDuration, type Duration } from '../time/duration.js';
import { TimerFailures } from '../time/timers.js';
import { WatermarkTracker } from '../time/watermark.js';
import { isStackOverflow } from '../util/stack-overflow.js';
import { annotatedCopy, type DerivedRecord, type OperatorContext, type OperatorDefinition } from './contract.js';
import { MemoryStoreFactory } from '../state/engines/memory.js';
import { stateEngineFailure } from '../state/failure.js';
import { InvalidKeyError } from '../state/key-order.js';
import type { SourceMapping } from '../event/mapping.js';
import { createNormalizer } from '../event/normalize.js';
import { safeJson } from '../runtime/records.js';
import { forgetEventOf, forgetRequestOf, forgetStep, forgottenRecord } from '../runtime/forget.js';
import { optionsProblems } from './options-check.js';

/** Builds an operator from a function of (source, subscriber), like RxJS's internal `operate`. */
export function operate<T, R>(init: (source: Observable<T>, subscriber: Subscriber<R>) => TeardownLogic): OperatorFunction<T, R> {
  return (source) => new Observable<R>((subscriber) => init(source, subscriber));
}

/** A side output: an Observer (e.g. a Subject) or a callback. */
export type SideOutput = Partial<Observer<DerivedRecord>> | ((record: DerivedRecord) => void);

/** Wiring options every RxJS operator of Tributary accepts besides its own. */
export interface RxWiringOptions {
  /** Where derived records go, by stream name (`duplicates`, `sessions`, …, and `late`). Unlisted streams are discarded. */
  outputs?: Record<string, SideOutput>;
  /** Watermark = highest event time − allowedLateness. Default `0ms`. */
  allowedLateness?: Duration;
  /**
   * State stores; default in memory. For state that survives restarts pass
   * `new CachingStoreFactory(new LmdbStoreFactory({ path }))` (decoded state in memory, encoded
   * once per flush, as the runners do) and flush that factory; a bare `LmdbStoreFactory` works
   * too but encodes a key's value on every write (dedupe's open segment, a key's sessions).
   */
  stores?: StoreFactory;
  /** Processing-time clock (idle detection only). Default the system clock. */
  clock?: Clock;
  /** Flush the stores every N events (and always at completion). Default 1000. */
  checkpointEvery?: number;
  /** Step name for store names. Default the operator name. */
  name?: string;
  /**
   * When no event has arrived for this long (processing time), the watermark advances with
   * processing time, so sessions and absence timers close while traffic is stopped. Default:
   * never (the watermark moves only with events and at completion).
   */
  idleTimeout?: Duration;
  /** How often to re-check the watermark while idle, ms. Default 1000. */
  idleCheckMs?: number;
  /**
   * How incoming events that are not canonical are turned into events (e.g. Segment events as
   * they arrive: ISO `timestamp`, `sentAt`, `context`): the source mapping of a pipeline
   * definition; without it the default mapping (Segment/canonical field names). Canonical events
   * (a number `timestamp`, a string `messageId` and `type`) pass as they are.
   */
  mapping?: SourceMapping;
  /**
   * What a record the operator cannot take does: `dead-letter` (default) sends
   * `{ reason, detail, raw, source }` to the `dead-letter` side output and the stream goes on (an
   * event that does not normalise: `invalid-timestamp`, `missing-field`, …; one without its key:
   * `missing-key`; one the logic throws on: `processing-error`, or `invalid-key` when a store
   * refused its key); `fail` errors the stream with the same detail instead.
   */
  onBadRecord?: 'dead-letter' | 'fail';
}

/** The options every operator takes from {@link RxWiringOptions}, not checked against its own schema. */
const WIRING: ReadonlySet<string> = new Set(['outputs', 'allowedLateness', 'stores', 'clock', 'checkpointEvery', 'name', 'idleTimeout', 'idleCheckMs', 'mapping', 'onBadRecord']);

/**
 * Throws a TypeError naming the operator and every problem of its options: its own against its
 * schema (the one a definition file is checked against), the wiring ones by hand. When the
 * operator is made, not at the first record (a bad duration failed at subscription, a misspelt
 * option was ignored).
 */
function checkOptions(definition: OperatorDefinition<never, unknown> | OperatorDefinition<unknown, unknown>, options: unknown): void {
  const name = definition.name;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${name}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  const problems = optionsProblems(definition, options, WIRING);
  const o = options as RxWiringOptions;
  if (o.onBadRecord !== undefined && o.onBadRecord !== 'dead-letter' && o.onBadRecord !== 'fail') problems.push(`onBadRecord: must be "dead-letter" or "fail", got ${JSON.stringify(o.onBadRecord)}`);
  if (o.checkpointEvery !== undefined && !(Number.isInteger(o.checkpointEvery) && o.checkpointEvery >= 1)) problems.push(`checkpointEvery: must be a whole number ≥ 1, got ${JSON.stringify(o.checkpointEvery)}`);
  for (const key of ['allowedLateness', 'idleTimeout'] as const) {
    if (o[key] === undefined) continue;
    try {
      parseDuration(o[key]);
    } catch (e) {
      problems.push(`${key}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (const [stream, out] of Object.entries(o.outputs ?? {})) {
    if (typeof out !== 'function' && (out === null || typeof out !== 'object')) problems.push(`outputs.${stream}: must be a function or an observer, got ${JSON.stringify(out)}`);
  }
  if (problems.length > 0) throw new TypeError(`${name}: invalid options: ${problems.join('; ')}`);
}

/** An event as it may arrive in a service: canonical, or as a source sends it (e.g. Segment). */
export type IncomingEvent = TributaryEvent | Record<string, unknown>;

/**
 * Canonical events pass as they are. A number timestamp outside the years 1900–2099 (as an ISO
 * one is) goes through the normaliser, which refuses it: 1e20 moved the watermark past every later
 * event, and past 2^53 ms `t + 1 === t` made a funnel's timer fire for ever.
 */
const isCanonical = (e: IncomingEvent): e is TributaryEvent =>
  typeof e.timestamp === 'number' && e.timestamp >= MIN_TIME && e.timestamp < MAX_TIME && typeof e.messageId === 'string' && typeof e.type === 'string';
const MIN_TIME = Date.UTC(1900, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

function deliver(out: SideOutput | undefined, record: DerivedRecord): void {
  if (!out) return;
  if (typeof out === 'function') out(record);
  else out.next?.(record);
}

/**
 * Turns an operator definition into a pipeable RxJS operator. Late events (older than the
 * operator's watermark) go to the `late` side output. When the source completes, the
 * watermark goes to +∞ (every pending timer fires), the stores are flushed, then the
 * result completes.
 *
 * @example
 * ```ts
 * const dedupe = (o: DedupeOptions & RxWiringOptions) => keyedOperator(dedupeOperator, o);
 * events$.pipe(dedupe({ ttl: '24h', output: 'duplicates', outputs: { duplicates: dup$ } }));
 * ```
 */
export function keyedOperator<O, R>(definition: OperatorDefinition<O, R>, options: O & RxWiringOptions): OperatorFunction<IncomingEvent, TributaryEvent> {
  checkOptions(definition, options);
  const config = definition.resolve(options);
  const keyPaths = definition.keyPaths(config);
  const step = options.name ?? definition.name;
  const every = options.checkpointEvery ?? 1000;
  const normalize = createNormalizer(options.mapping);
  return operate<IncomingEvent, TributaryEvent>((source, subscriber) => {
    const stores = options.stores ?? new MemoryStoreFactory({ clone: !definition.immutableState });
    const clock = options.clock ?? systemClock;
    const idleTimeout = options.idleTimeout === undefined ? undefined : parseDuration(options.idleTimeout);
    const watermarks = new WatermarkTracker({ allowedLateness: parseDuration(options.allowedLateness ?? 0), idleTimeout, clock });
    const ctx: OperatorContext = {
      pipeline: 'rx',
      step,
      clock,
      store: <K extends StoreKey, V>(name: string) => stores.open<K, V>(`${step}.${name}`),
      emit: (stream, record) => deliver(options.outputs?.[stream], record),
      drop: () => undefined,
      count: () => undefined,
      watermark: () => watermarks.current(),
      annotate: annotatedCopy,
    };
    let logic = definition.create(config, ctx);
    let lastAdvanced = -Infinity;
    let sinceFlush = 0;
    let chain: Promise<void> = Promise.resolve();
    const fail = (e: unknown) => subscriber.error(e);
    /** A record the operator cannot take: a dead letter, or (onBadRecord: fail) the end of the stream. */
    const reject = (reason: string, detail: string, record: unknown) => {
      if (options.onBadRecord === 'fail') {
        subscriber.error(new Error(`${step}: ${reason}: ${detail}`));
        return;
      }
      deliver(options.outputs?.['dead-letter'], { reason, detail, raw: safeJson(record), source: `rx ${step}` });
    };
    const advance = (now?: number) => {
      const wm = watermarks.current(now);
      if (wm > lastAdvanced) {
        lastAdvanced = wm;
        try {
          logic.advance?.(wm);
        } catch (e) {
          // A timer that throws is a dead letter, as in the runners; the others have fired.
          const failures = e instanceof TimerFailures ? e.failures : [{ id: undefined, time: wm, error: e }];
          for (const f of failures) {
            if (stateEngineFailure(f.error)) throw f.error;
            const what = f.id === undefined ? `threw when the watermark advanced to ${wm}` : `threw firing timer ${f.id} (due ${f.time}, watermark ${wm})`;
            reject('processing-error', `${step} ${what}: ${messageOf(f.error)}`, { step, timer: f.id ?? null, time: f.time });
          }
        }
      }
    };
    const idleCheck =
      idleTimeout === undefined
        ? undefined
        : setInterval(() => {
            try {
              advance();
            } catch (e) {
              fail(e);
            }
          }, options.idleCheckMs ?? 1000);
    idleCheck?.unref();
    const sub = source.subscribe({
      next: (incoming) => {
        let event: TributaryEvent;
        // Reading the event may throw (a getter, a revoked Proxy, a cycle or 5,000 levels when its
        // content id is computed): the record's problem, never the stream's.
        try {
          if (incoming === null || typeof incoming !== 'object') return reject('not-an-object', `an event is an object, not ${incoming === null ? 'null' : typeof incoming}`, incoming);
          if (isCanonical(incoming)) event = incoming;
          else {
            const n = normalize(incoming);
            if (!n.ok) return reject(n.reason, n.detail, incoming);
            event = n.event;
          }
        } catch (e) {
          if (isStackOverflow(e)) return reject('too-deep', 'nested too deep to read (objects and arrays)', incoming);
          return reject('invalid-field', `the event could not be read: ${messageOf(e)}`, incoming);
        }
        try {
          if (event.type === 'forget') {
            // An erasure request: the step forgets the person, its logic is made again from what
            // is left, the (widened) request goes on for the next operator, the audit to `forgotten`.
            const r = forgetRequestOf(event);
            if (!r.ok) return reject('invalid-forget', r.detail, event);
            let outcome: ReturnType<typeof forgetStep>;
            try {
              outcome = forgetStep(definition as OperatorDefinition<unknown, unknown>, config, ctx.store, r.request.subject);
            } catch (e) {
              return reject('invalid-forget', `the request could not be applied in full: ${e instanceof Error ? e.message : String(e)}`, event);
            } finally {
              logic = definition.create(config, ctx);
            }
            const stores = Object.fromEntries(Object.entries(outcome.removed).map(([s, n]) => [`${step}.${s}`, n]));
            deliver(options.outputs?.forgotten, forgottenRecord(r.request, `rx ${step}`, clock.now(), stores));
            subscriber.next(forgetEventOf({ ...r.request, subject: outcome.subject }, event));
            return;
          }
          const now = clock.now(); // once per event: idle detection works in seconds
          const wm = watermarks.current(now);
          if (event.timestamp < wm) {
            deliver(options.outputs?.late, { ...event, watermark: wm });
            return;
          }
          watermarks.observe('0', event.timestamp, now);
          const key = keyPaths ? resolveKey(event, keyPaths) : '';
          if (key === undefined) return reject('missing-key', `event ${event.messageId} has none of the key fields ${keyPaths?.join(', ')}`, event);
          let out: TributaryEvent | null;
          try {
            out = logic.process(event, key);
          } catch (e) {
            if (stateEngineFailure(e)) return fail(e); // the state's, not the record's: the stream errors
            const reason = e instanceof InvalidKeyError ? 'invalid-key' : 'processing-error';
            return reject(reason, `${step} threw on this record: ${e instanceof Error ? e.message : String(e)}`, event);
          }
          if (out) subscriber.next(out);
          advance(now);
          if (++sinceFlush >= every) {
            sinceFlush = 0;
            chain = chain.then(() => stores.flush()).catch(fail);
          }
        } catch (e) {
          // Reading the record's key or copying it (a getter that throws) is the record's problem;
          // the state's failures stop the stream.
          if (stateEngineFailure(e)) return fail(e);
          return reject('processing-error', `${step} could not handle this record: ${messageOf(e)}`, incoming);
        }
      },
      error: (e) => subscriber.error(e),
      complete: () => {
        if (idleCheck) clearInterval(idleCheck);
        try {
          watermarks.advanceTo(Infinity);
          advance();
        } catch (e) {
          fail(e);
          return;
        }
        chain
          .then(() => stores.flush())
          .then(() => (options.stores ? undefined : stores.close()))
          .then(() => subscriber.complete(), fail);
      },
    });
    return () => {
      if (idleCheck) clearInterval(idleCheck);
      sub.unsubscribe();
    };
  });
}
