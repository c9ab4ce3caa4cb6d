/**
 * `dedupe`: drops an event whose idempotency key was already seen within `ttl`
 * of event time. Duplicates go to the optional output and are counted; state expires by
 * event time, so it stays bounded. The query API (a key's first occurrence) is in
 * operators/dedupe/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import { defineOperator, type OperatorContext, type OperatorLogic, EVENT_RECORD_KEY } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import type { KeyValueStore, StoreKey } from '../lib/state/store.js';
import { MemoryTimers } from '../lib/time/timers.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';
import { dedupeQuery } from './dedupe/query.js';
import { subjectTerms } from '../lib/operator/forget.js';

export { dedupeQuery, type DedupeKeyState } from './dedupe/query.js';

/** Options of `dedupe` as written in a pipeline. */
export interface DedupeOptions {
  /** Idempotency key: a field path or a list of paths (first non-null). Default `messageId`. */
  key?: string | string[];
  /** How long, in event time, a key is remembered. Default `24h`. */
  ttl?: Duration;
  /** Stream that receives the dropped duplicates. Default: none (only counted). */
  output?: string;
  /** Step name, when a pipeline has two dedupe steps. */
  name?: string;
}

/** Resolved options. */
export interface DedupeConfig {
  key: string[];
  ttlMs: number;
  output: string | undefined;
}

/** A duplicate as written to the duplicates output: the event, plus what it duplicated. */
export interface DuplicateRecord extends TributaryEvent {
  duplicateKey: string;
  /** Event time of the first occurrence. */
  firstSeenAt: number;
}

/**
 * A segment of `seen`: the keys first seen while it was the open segment, in arrival order, with
 * their first-seen event times, and the time at which every one of them has expired.
 */
export interface SeenSegment {
  keys: string[];
  at: number[];
  /** max(at) + ttl + 1: the watermark at which the whole segment may go. */
  expiresAt: number;
}

/** A segment closes at this many keys, */
const SEGMENT_KEYS = 4096;
/** or this many UTF-16 units of keys (a changelog record stays far under Kafka's 1 MB), */
const SEGMENT_UNITS = 128 * 1024;
/** or when its first-seen times span more than ttl / this (so expired keys are dropped soon after their ttl). */
const SEGMENT_SPAN_DIVISOR = 8;

/**
 * The per-key logic of dedupe, usable with plain calls.
 *
 * An event is a duplicate when its key was first seen at `f` and `|t − f| ≤ ttl`. Expiry never
 * changes a result: once the watermark passes `f + ttl`, no event within ttl of `f` can arrive
 * without being late. So state is kept and dropped by **segment**, not by key:
 *
 * - Keys are remembered in memory (a `Map` of key → first-seen time) and appended to
 *   the open segment, the one value of `seen` that changes: `seen` maps a segment number to a
 *   {@link SeenSegment}. A checkpoint writes each changed segment once (one LMDB entry, one
 *   changelog record) instead of two LMDB writes per key, and expiry deletes a whole segment
 *   (one delete) when the watermark passes the last expiry of its keys. A segment closes at 4096
 *   keys, 128 Ki characters of keys, or when its first-seen times span more than ttl / 8.
 * - A key past its ttl but still in a live segment is simply not a duplicate any more (the ttl
 *   check decides), and seeing it again files it in the open segment; the later segment wins
 *   when the state is reloaded.
 * - Opening the logic (a restart, a Kafka task after its restore) reads the segments once to
 *   rebuild the in-memory index and the segment expiry timers.
 * - A segment that expires forgets the keys whose remembered first-seen time is the one it
 *   holds for them: a key seen again after its ttl holds the time of that sighting (never the same).
 *
 * The price: the keys of the ttl (plus at most one segment's span) are resident in memory,
 * about 70 bytes per key in the JS heap for short keys (benchmarks/RESULTS.md).
 *
 * @example
 * ```ts
 * const logic = new DedupeLogic({ key: ['messageId'], ttlMs: 60_000, output: 'duplicates' }, ctx);
 * logic.process(event, event.messageId); // the event
 * logic.process(event, event.messageId); // null, and a record on `duplicates`
 * ```
 */
export class DedupeLogic implements OperatorLogic {
  private readonly seen: KeyValueStore<number, SeenSegment>;
  private readonly index = new Map<string, number>();
  private readonly expiries = new MemoryTimers<number>();
  private open: SeenSegment = { keys: [], at: [], expiresAt: -Infinity };
  private openNumber = 0;
  private openUnits = 0;
  private openFirst = Infinity;
  private readonly maxSpan: number;

  constructor(private readonly config: DedupeConfig, private readonly ctx: OperatorContext) {
    this.seen = ctx.store<number, SeenSegment>('seen');
    this.maxSpan = config.ttlMs / SEGMENT_SPAN_DIVISOR;
    let last = -1;
    // An earlier layout kept one entry per key (key → first-seen time): filed again below.
    const earlier: Array<[string, number]> = [];
    for (const { key: n, value } of (this.seen as KeyValueStore<StoreKey, unknown>).range()) {
      if (typeof n === 'string' && typeof value === 'number') {
        earlier.push([n, value]);
        continue;
      }
      const seg = value as SeenSegment;
      const at = n as number;
      for (let i = 0; i < seg.keys.length; i++) this.index.set(seg.keys[i]!, seg.at[i]!);
      this.expiries.register({ id: String(at), time: seg.expiresAt, data: at });
      last = at;
    }
    this.openNumber = last + 1;
    if (earlier.length > 0) this.fileEarlier(earlier);
  }

  /** Moves per-key entries of the earlier layout into segments (in first-seen order) and deletes them. */
  private fileEarlier(entries: Array<[string, number]>): void {
    entries.sort((a, b) => a[1] - b[1]);
    for (const [key, at] of entries) {
      (this.seen as KeyValueStore<StoreKey, unknown>).delete(key);
      if (this.index.has(key)) continue;
      this.remember(key, at);
    }
  }

  process(event: TributaryEvent, key: string): TributaryEvent | null {
    const t = event.timestamp;
    const first = this.index.get(key);
    if (first !== undefined && Math.abs(t - first) <= this.config.ttlMs) {
      this.ctx.drop('duplicate');
      if (this.config.output) {
        const dup: DuplicateRecord = { ...event, duplicateKey: key, firstSeenAt: first };
        this.ctx.emit(this.config.output, dup);
      }
      return null;
    }
    // New key, or seen longer than ttl ago: this occurrence starts a new ttl window.
    this.remember(key, t);
    return event;
  }

  /** Files `key` first seen at `t` in the open segment. */
  private remember(key: string, t: number): void {
    let seg = this.open;
    if (seg.keys.length > 0 && (seg.keys.length >= SEGMENT_KEYS || this.openUnits >= SEGMENT_UNITS || Math.abs(t - this.openFirst) > this.maxSpan)) {
      seg = this.startSegment();
    }
    if (seg.keys.length === 0) this.openFirst = t;
    seg.keys.push(key);
    seg.at.push(t);
    this.openUnits += key.length;
    this.index.set(key, t);
    // +1: the key must still be remembered while the watermark equals f + ttl (inclusive bound).
    const expiresAt = t + this.config.ttlMs + 1;
    if (expiresAt > seg.expiresAt) {
      // The segment's timer is set at its first key only: when it fires before the segment's
      // (since grown) expiry, it is moved there (see advance), instead of at every key.
      if (seg.expiresAt === -Infinity) this.expiries.register({ id: String(this.openNumber), time: expiresAt, data: this.openNumber });
      seg.expiresAt = expiresAt;
    }
    // Changed in place and put back: the store writes it at the next checkpoint.
    this.seen.put(this.openNumber, seg);
  }

  private startSegment(): SeenSegment {
    this.openNumber++;
    this.open = { keys: [], at: [], expiresAt: -Infinity };
    this.openUnits = 0;
    this.openFirst = Infinity;
    return this.open;
  }

  advance(watermark: number): void {
    if (watermark < this.expiries.nextTime()) return;
    this.expiries.fireDue(watermark, ({ data: n }) => {
      const seg = this.seen.get(n);
      if (seg === undefined) return;
      if (seg.expiresAt > watermark) {
        this.expiries.register({ id: String(n), time: seg.expiresAt, data: n });
        return;
      }
      // A key seen again after its ttl was filed again: its index entry holds that other time.
      for (let i = 0; i < seg.keys.length; i++) if (this.index.get(seg.keys[i]!) === seg.at[i]) this.index.delete(seg.keys[i]!);
      this.seen.delete(n);
      if (n === this.openNumber) this.startSegment();
    });
  }

  /** How many idempotency keys are remembered (those past their ttl included until their segment goes). */
  size(): number {
    return this.index.size;
  }

  /** When `key` was first seen, if it is remembered (the query API). */
  firstSeen(key: string): number | undefined {
    return this.index.get(key);
  }
}

/** Rewrites every segment of `seen` that holds one of `terms` as an idempotency key without it; returns how many keys left. */
function forgetKeys(seen: KeyValueStore<number, SeenSegment>, terms: ReadonlySet<string>): number {
  const rewritten: Array<[number, SeenSegment]> = [];
  let removed = 0;
  for (const { key, value } of seen.range()) {
    if (typeof value !== 'object' || !value.keys.some((k) => terms.has(k))) continue;
    const keep = value.keys.flatMap((k, i) => (terms.has(k) ? [] : [i]));
    removed += value.keys.length - keep.length;
    rewritten.push([key, { keys: keep.map((i) => value.keys[i]!), at: keep.map((i) => value.at[i]!), expiresAt: value.expiresAt }]);
  }
  for (const [n, seg] of rewritten) seen.put(n, seg);
  return removed;
}

/** The `dedupe` operator definition (registry entry). */
export const dedupeOperator = defineOperator<DedupeOptions, DedupeConfig>({
  name: 'dedupe',
  summary: 'drop events whose idempotency key was already seen within ttl (event time)',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      key: {
        description: 'idempotency key: a field path or list of paths, first non-null wins (default messageId)',
        oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
      },
      ttl: { description: 'how long a key is remembered, in event time (default 24h)', type: 'string', pattern: DURATION_PATTERN },
      output: { description: 'stream receiving the dropped duplicates', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
      name: { description: 'step name (default dedupe)', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    },
  },
  resolve(options) {
    return {
      key: options.key === undefined ? ['messageId'] : Array.isArray(options.key) ? options.key : [options.key],
      ttlMs: parseDuration(options.ttl ?? '24h'),
      output: options.output,
    };
  },
  keyPaths: (c) => c.key,
  // By messageId, copies are identical events and so share the upstream partition; any other
  // idempotency key (an order id sent from web and server) needs the stream keyed by it.
  partitioning: (c) => (c.key.length === 1 && c.key[0] === 'messageId' ? 'any' : 'key'),
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'duplicates', key: EVENT_RECORD_KEY }] : []),
  stores: () => ['seen'],
  create: (c, ctx) => new DedupeLogic(c, ctx),
  query: (c, store, key, watermark) => dedupeQuery(c, store('seen'), key, watermark),
  // A segment pools the keys of many events: only the subject's keys leave it (the message ids a
  // messageId-keyed dedupe remembers name nobody, so it has nothing to forget).
  forget: (_c, store, subject) => ({ subject, removed: { seen: forgetKeys(store('seen'), subjectTerms(subject)) } }),
  immutableState: true,
});

/**
 * `dedupe` as a pipeable RxJS operator. Duplicates go to `outputs.duplicates` (or the stream
 * named by `output`); late events to `outputs.late`.
 *
 * @example
 * ```ts
 * import { Subject, from } from 'rxjs';
 * import { dedupe } from 'tributary/operators';
 * const duplicates = new Subject<Record<string, unknown>>();
 * from(events).pipe(dedupe({ ttl: '24h', outputs: { duplicates } })).subscribe(console.log);
 * ```
 */
export function dedupe(options: DedupeOptions & RxWiringOptions = {}): OperatorFunction<IncomingEvent, TributaryEvent> {
  const output = options.output ?? (options.outputs?.duplicates ? 'duplicates' : undefined);
  return keyedOperator(dedupeOperator, { ...options, output });
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    dedupe: DedupeOptions;
  }
}
