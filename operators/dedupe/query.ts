/**
 * The query API of `dedupe` ({@link dedupeQuery}): what the step remembers of one idempotency
 * key, read from its `seen` segments, for `GET /state/<step>/<key>`.
 */
import type { KeyValueStore } from '../../lib/state/store.js';
import type { DedupeConfig, SeenSegment } from '../dedupe.js';

/** What `GET /state/<dedupe step>/<key>` returns: the key's first occurrence. */
export interface DedupeKeyState {
  /** The idempotency key as asked. */
  key: string;
  /** Event time (epoch ms) of the occurrence that started the key's current ttl window. */
  firstSeen: number;
  /**
   * `firstSeen + ttl` (epoch ms): an event with this key at an event time up to here (and no
   * earlier than `firstSeen − ttl`) is a duplicate; the key is forgotten once the watermark
   * passes it.
   */
  expiresAt: number;
}

/**
 * The key's first occurrence, or `undefined` when the step does not remember it (never seen, or
 * the watermark passed `firstSeen + ttl`). The key is the idempotency key's value as the step
 * reads it from the event (the first non-null of its `key` paths, a number as `String(n)`).
 * Scans the segments newest first (a key seen again after its ttl is filed again in a later
 * segment, which wins): a diagnostic read, linear in the keys of the last ttl.
 *
 * @example
 * ```ts
 * // GET /state/dedupe/m1 after an event { messageId: 'm1', timestamp: 600000 }, ttl 1h:
 * dedupeQuery(config, driver.store('dedupe', 'seen'), 'm1', watermark);
 * // { key: 'm1', firstSeen: 600000, expiresAt: 4200000 }
 * ```
 */
export function dedupeQuery(config: DedupeConfig, seen: KeyValueStore<number, SeenSegment>, key: string, watermark: number): DedupeKeyState | undefined {
  for (const { value } of seen.range({ reverse: true })) {
    const i = value.keys.lastIndexOf(key);
    if (i < 0) continue;
    const firstSeen = value.at[i] as number;
    const expiresAt = firstSeen + config.ttlMs;
    return expiresAt < watermark ? undefined : { key, firstSeen, expiresAt };
  }
  return undefined;
}
