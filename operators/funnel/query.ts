/**
 * The query API of `funnel` ({@link funnelQuery}): a key's open attempt, read from the step's
 * `keys` store, for `GET /state/<step>/<key>`.
 */
import { firstAttempt } from './attempt.js';
import type { FunnelConfig } from './options.js';
import { funnelRecord, type FunnelRecord } from './records.js';
import type { FunnelStore } from './state.js';

/** What `GET /state/<funnel step>/<key>` returns. */
export interface FunnelKeyQuery {
  key: string;
  /**
   * The key's open attempt as the record it would close with now (`final: false`), plus
   * `closesAt`: the attempt's record is written once the watermark passes it (the converting
   * event's time, else startedAt + within). Null while the key's buffered events reach no step 1.
   */
  attempt: (Omit<FunnelRecord, 'key' | 'final' | 'id' | 'funnel'> & { closesAt: number }) | null;
  /** How many matching events of the key are kept (they may still count, for this attempt or a later one). */
  buffered: number;
}

/**
 * The state of `key`, or `undefined` when it has none (never seen, or its attempts closed with
 * nothing left buffered).
 *
 * @example
 * ```ts
 * // GET /state/funnel/p1 after a view at 0 (steps view, cart, purchase; within 1h):
 * funnelQuery(config, driver.store('funnel', 'keys'), 'p1');
 * // { key: 'p1', attempt: { startedAt: 0, steps: [{ name: 'view', at: 0, messageId: 'm1' }],
 * //   furthestStep: 1, furthestStepName: 'view', converted: false, droppedAfter: null,
 * //   stepDurationsMs: [], totalMs: 0, closesAt: 3600000 }, buffered: 1 }
 * ```
 */
export function funnelQuery(config: FunnelConfig, keys: FunnelStore, key: string): FunnelKeyQuery | undefined {
  const s = keys.get(key);
  if (s === undefined) return undefined;
  const attempt = firstAttempt(s.events, config.steps.length, config.withinMs);
  let open: FunnelKeyQuery['attempt'] = null;
  if (attempt !== undefined) {
    const { key: _key, final: _final, id: _id, funnel: _funnel, ...record } = funnelRecord('', config, key, s.events, attempt, false);
    open = { ...record, closesAt: attempt.closesAt };
  }
  return { key, attempt: open, buffered: s.events.length };
}
