/**
 * The canonical behavioral event: the Segment tracking spec's fields, camelCase,
 * with `timestamp` normalised to epoch milliseconds UTC. Unknown extra fields are kept.
 */

/**
 * Segment call types, and `forget`: a request to erase a person (named by `userId`,
 * `anonymousId` or `properties.personId`) from the pipeline's state, a control record that is
 * never late, never moves the watermark and is never written to the `events` sink.
 */
export type EventType = 'track' | 'identify' | 'alias' | 'page' | 'screen' | 'forget';

export const EVENT_TYPES: readonly EventType[] = ['track', 'identify', 'alias', 'page', 'screen', 'forget'];

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
