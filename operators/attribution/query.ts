/**
 * The query API of `attribution` ({@link attributionQuery}): a key's journey as the step keeps
 * it, read from the `journeys` store, for `GET /state/<step>/<key>`.
 */
import type { AttributionConfig } from './options.js';
import type { JourneyStore } from './state.js';

/** What `GET /state/<attribution step>/<key>` returns. */
export interface AttributionKeyState {
  key: string;
  /** The touchpoints a conversion can still credit, in journey order; `expiresAt` = at + lookback. */
  touchpoints: Array<{ messageId: string; at: number; channel: string | null; campaign: string | null; expiresAt: number }>;
  /** The conversions whose record is written once the watermark passes `convertedAt`. */
  pending: Array<{ conversionId: string; convertedAt: number; value: number }>;
}

/**
 * The key's journey, or `undefined` when the step keeps nothing of it (never seen, or every
 * touchpoint expired and every conversion written). Touchpoints whose expiry the watermark passed
 * are left out.
 *
 * @example
 * ```ts
 * // GET /state/attribution/p1 after an email click at 0 (lookback 30d):
 * attributionQuery(config, driver.store('attribution', 'journeys'), 'p1', watermark);
 * // { key: 'p1', touchpoints: [{ messageId: 'c1', at: 0, channel: 'email', campaign: 'spring', expiresAt: 2592000000 }], pending: [] }
 * ```
 */
export function attributionQuery(config: AttributionConfig, journeys: JourneyStore, key: string, watermark: number): AttributionKeyState | undefined {
  const state = journeys.get(key);
  if (!state) return undefined;
  const touchpoints = state.touchpoints
    .filter((t) => t.at + config.lookbackMs >= watermark)
    .map((t) => ({ messageId: t.messageId, at: t.at, channel: t.channel, campaign: t.campaign, expiresAt: t.at + config.lookbackMs }));
  const pending = state.pending.map((p) => ({ conversionId: p.messageId, convertedAt: p.at, value: p.value }));
  if (touchpoints.length === 0 && pending.length === 0) return undefined;
  return { key, touchpoints, pending };
}
