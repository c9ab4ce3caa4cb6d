/**
 * The normaliser a task runs on each source record: the mapping and canonical checks of
 * `createNormalizer`, then the bound on how far an event's time may be ahead of processing time
 * (`source.maxFutureSkew`). An event past the bound (a device clock in 2099, a unit mistake) is a
 * dead letter, `future-timestamp`, so it never moves the watermark: one such event would
 * otherwise send every later on-time event to `late`.
 */
import { createNormalizer, type NormalizeResult } from '../event/normalize.js';
import type { ResolvedSource } from '../pipeline/compile.js';
import type { Clock } from '../time/clock.js';
import { formatDuration } from '../time/duration.js';

/** Raw record → event or dead-letter reason, as a task applies it to its source. */
export type SourceNormalizer = (raw: unknown) => NormalizeResult;

/**
 * Why an event dated `timestamp` is too far ahead of processing time `now`, or `undefined` when
 * it is within `maxSkewMs`.
 *
 * @example
 * ```ts
 * futureTimestampProblem(Date.UTC(2099, 11, 31), Date.UTC(2026, 11, 7), 86_400_000);
 * // 'timestamp 2099-12-31T00:00:00.000Z is more than maxFutureSkew 1d ahead of processing time 2026-12-07T00:00:00.000Z (latest accepted: 2026-12-08T00:00:00.000Z)'
 * ```
 */
export function futureTimestampProblem(timestamp: number, now: number, maxSkewMs: number): string | undefined {
  if (timestamp - now <= maxSkewMs) return undefined;
  const iso = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));
  return `timestamp ${iso(timestamp)} is more than maxFutureSkew ${formatDuration(maxSkewMs)} ahead of processing time ${iso(now)} (latest accepted: ${iso(now + maxSkewMs)})`;
}

/**
 * The source's normaliser with the future bound, reading processing time from `clock` (which
 * never goes back: an event at or below a bound already computed passes without reading it).
 *
 * @example
 * ```ts
 * const normalize = createSourceNormalizer(topology.source, systemClock);
 * const r = normalize({ type: 'track', event: 'view', anonymousId: 'a', timestamp: '2099-12-31T00:00:00Z' });
 * // { ok: false, reason: 'future-timestamp', detail: 'timestamp 2099-12-31T00:00:00.000Z is more than maxFutureSkew 1d ahead of …' }
 * ```
 */
export function createSourceNormalizer(source: Pick<ResolvedSource, 'mapping' | 'maxFutureSkewMs'>, clock: Clock): SourceNormalizer {
  const mapped = createNormalizer(source.mapping);
  // A `forget` request is Tributary's own control record, written in the canonical fields
  // whatever the source's mapping (the same request goes to every pipeline), and dated when it
  // was made: never subject to the future bound.
  const canonical = source.mapping ? createNormalizer() : mapped;
  const normalize: SourceNormalizer = (raw) => (isForget(raw) ? canonical(raw) : mapped(raw));
  const skew = source.maxFutureSkewMs;
  if (skew === Infinity) return normalize;
  let bound = -Infinity;
  return (raw) => {
    if (isForget(raw)) return canonical(raw);
    const r = normalize(raw);
    if (!r.ok || r.event.timestamp <= bound) return r;
    const now = clock.now();
    bound = now + skew;
    const problem = futureTimestampProblem(r.event.timestamp, now, skew);
    return problem === undefined ? r : { ok: false, reason: 'future-timestamp', detail: problem };
  };
}

/** Whether a raw record is a `forget` request (see {@link createSourceNormalizer}). */
function isForget(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'forget';
}
