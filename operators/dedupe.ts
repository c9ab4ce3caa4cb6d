/**
 * `dedupe` (SPEC §4.1): drops an event whose idempotency key was already seen within `ttl`
 * of event time. Duplicates go to the optional output and are counted; state expires by
 * event time, so it stays bounded.
 */
import type { OperatorFunction } from 'rxjs';
import { defineOperator, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import type { KeyValueStore } from '../lib/state/store.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';

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

/** `seen`: idempotency key → event time of its first occurrence, expiring at first + ttl. */
type SeenStore = KeyValueStore<string, number>;

/**
 * The per-key logic of dedupe, usable with plain calls.
 *
 * An event is a duplicate when its key was first seen at `f` and `|t − f| ≤ ttl`. The entry
 * expires when the watermark passes `f + ttl`; since no event later than that can be within
 * ttl of `f` without being late, expiry never changes a result, it only bounds state.
 *
 * @example
 * ```ts
 * const logic = new DedupeLogic({ key: ['messageId'], ttlMs: 60_000, output: 'duplicates' }, ctx);
 * logic.process(event, event.messageId); // the event
 * logic.process(event, event.messageId); // null, and a record on `duplicates`
 * ```
 */
export class DedupeLogic implements OperatorLogic {
  private readonly seen: SeenStore;

  constructor(private readonly config: DedupeConfig, private readonly ctx: OperatorContext) {
    this.seen = ctx.store<string, number>('seen');
  }

  process(event: TributaryEvent, key: string): TributaryEvent | null {
    const t = event.timestamp;
    const first = this.seen.get(key);
    if (first !== undefined && Math.abs(t - first) <= this.config.ttlMs) {
      this.ctx.drop('duplicate');
      if (this.config.output) {
        const dup: DuplicateRecord = { ...event, duplicateKey: key, firstSeenAt: first };
        this.ctx.emit(this.config.output, dup);
      }
      return null;
    }
    // New key, or seen longer than ttl ago: this occurrence starts a new ttl window.
    // +1: the entry must still be there while the watermark equals f + ttl (inclusive bound).
    this.seen.put(key, t, { expiresAt: t + this.config.ttlMs + 1 });
    return event;
  }

  advance(watermark: number): void {
    this.seen.expire(watermark);
  }
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
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'duplicates' }] : []),
  stores: () => ['seen'],
  create: (c, ctx) => new DedupeLogic(c, ctx),
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
export function dedupe(options: DedupeOptions & RxWiringOptions = {}): OperatorFunction<TributaryEvent, TributaryEvent> {
  const output = options.output ?? (options.outputs?.duplicates ? 'duplicates' : undefined);
  return keyedOperator(dedupeOperator, { ...options, output });
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    dedupe: DedupeOptions;
  }
}
