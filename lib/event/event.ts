/**
 * The canonical behavioral event: the Segment tracking spec's fields, camelCase,
 * with `timestamp` normalised to epoch milliseconds UTC. Unknown extra fields are kept.
 */

/** Segment call types. */
export type EventType = 'track' | 'identify' | 'alias' | 'page' | 'screen';

export const EVENT_TYPES: readonly EventType[] = ['track', 'identify', 'alias', 'page', 'screen'];

/** Event context: channel, consent flags, device, campaign, … */
export interface EventContext {
  channel?: string;
  consent?: Record<string, boolean>;
  [field: string]: unknown;
}

/**
 * A normalised event.
 *
 * @example
 * ```ts
 * const e: TributaryEvent = {
 *   messageId: 'm1', type: 'track', event: 'add_to_cart', userId: null, anonymousId: 'a1',
 *   timestamp: 1569888000000, properties: { productId: '44600062', price: 35.79 },
 *   context: { channel: 'web' },
 * };
 * ```
 */
export interface TributaryEvent {
  messageId: string;
  type: EventType;
  /** Name of a `track` event. */
  event?: string | null;
  userId: string | null;
  anonymousId: string | null;
  /** On `alias`: the id being merged into `userId`. */
  previousId?: string | null;
  /** Event time, epoch milliseconds UTC. */
  timestamp: number;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: EventContext;
  /** Unknown fields pass through; operators add theirs (`personId`, `sessionId`). */
  [field: string]: unknown;
}
