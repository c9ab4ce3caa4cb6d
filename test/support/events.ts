import type { TributaryEvent } from '../../lib/event/event.js';

/** A canonical track event with defaults, for tests. `t` is event time in ms. */
export function ev(messageId: string, t: number, extra: Partial<TributaryEvent> = {}): TributaryEvent {
  return { messageId, type: 'track', event: 'product_viewed', userId: null, anonymousId: 'a1', timestamp: t, ...extra };
}

export const MIN = 60_000;
export const HOUR = 3_600_000;
