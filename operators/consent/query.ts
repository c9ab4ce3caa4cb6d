/**
 * The query API of `consent` ({@link consentQuery}): a key's latest consent per channel, for
 * `GET /state/<step>/<key>`.
 */
import type { KeyValueStore } from '../../lib/state/store.js';
import type { ChannelHistory, ConsentState } from './state.js';

/** What `GET /state/<consent step>/<key>` returns. */
export interface ConsentKeyState {
  key: string;
  /** The latest known value of each channel (by event time) and that event time, channels sorted by name. */
  channels: Array<{ channel: string; granted: boolean; timestamp: number }>;
  /** The same as the flags object an event after all of them is annotated with. */
  flags: Record<string, boolean>;
}

/**
 * The key's latest consent per channel, or `undefined` when the step knows none. Consent does not
 * expire, so the watermark changes nothing.
 *
 * @example
 * ```ts
 * consentQuery(driver.store('consent', 'keys'), 'p1');
 * // { key: 'p1', channels: [{ channel: 'email', granted: false, timestamp: 20 }], flags: { email: false } }
 * ```
 */
export function consentQuery(keys: KeyValueStore<string, ConsentState>, key: string): ConsentKeyState | undefined {
  const state = keys.get(key);
  if (state === undefined || state.channels.length === 0) return undefined;
  const channels = state.channels.map(([channel, history]: [string, ChannelHistory]) => {
    const [timestamp, granted] = history[history.length - 1] as [number, boolean];
    return { channel, granted, timestamp };
  });
  return { key, channels, flags: Object.fromEntries(channels.map((c) => [c.channel, c.granted])) as Record<string, boolean> };
}
