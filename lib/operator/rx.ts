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
import { WatermarkTracker } from '../time/watermark.js';
import { annotatedCopy, type DerivedRecord, type OperatorContext, type OperatorDefinition } from './contract.js';
import { MemoryStoreFactory } from '../state/engines/memory.js';

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
}

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
export function keyedOperator<O, R>(definition: OperatorDefinition<O, R>, options: O & RxWiringOptions): OperatorFunction<TributaryEvent, TributaryEvent> {
  const config = definition.resolve(options);
  const keyPaths = definition.keyPaths(config);
  const step = options.name ?? definition.name;
  const every = options.checkpointEvery ?? 1000;
  return operate<TributaryEvent, TributaryEvent>((source, subscriber) => {
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
    const logic = definition.create(config, ctx);
    let lastAdvanced = -Infinity;
    let sinceFlush = 0;
    let chain: Promise<void> = Promise.resolve();
    const advance = () => {
      const wm = watermarks.current();
      if (wm > lastAdvanced) {
        lastAdvanced = wm;
        logic.advance?.(wm);
      }
    };
    const fail = (e: unknown) => subscriber.error(e);
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
      next: (event) => {
        try {
          const wm = watermarks.current();
          if (event.timestamp < wm) {
            deliver(options.outputs?.late, { ...event, watermark: wm });
            return;
          }
          watermarks.observe('0', event.timestamp);
          const key = keyPaths ? resolveKey(event, keyPaths) : '';
          if (key === undefined) {
            subscriber.error(new Error(`${step}: event ${event.messageId} has none of the key fields ${keyPaths?.join(', ')}`));
            return;
          }
          const out = logic.process(event, key);
          if (out) subscriber.next(out);
          advance();
          if (++sinceFlush >= every) {
            sinceFlush = 0;
            chain = chain.then(() => stores.flush()).catch(fail);
          }
        } catch (e) {
          fail(e);
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
