/**
 * Baseline: the dedupe a Node engineer would write by hand, state in a `Map` (the rules, the
 * outputs and the checkpoints are `dedupe-loop.ts`'s, so the counts must equal the embedded
 * runner's):
 *
 *   node dist/lib/bench/baselines/dedupe-map.js <input.ndjson> <out-dir>
 *
 * An entry expires once the watermark passes f + 24h (a min-heap of expiry times, checked after
 * every event).
 */
import { runDedupeBaseline, TTL_MS } from './dedupe-loop.js';
import { ExpiryHeap } from './expiry-heap.js';

await runDedupeBaseline('dedupe-map', () => {
  const firstSeen = new Map<string, number>();
  const expiry = new ExpiryHeap();
  return {
    firstSeen: (key) => firstSeen.get(key),
    remember(key, t) {
      firstSeen.set(key, t);
      expiry.push(t + TTL_MS, key);
    },
    // Expire what the watermark has passed (f + ttl < watermark). A key re-armed since keeps its
    // newer entry: its heap entry for the old f is skipped.
    expire(watermark) {
      while (expiry.size > 0 && expiry.peekTime() < watermark) {
        const k = expiry.pop();
        const f = firstSeen.get(k);
        if (f !== undefined && f + TTL_MS < watermark) firstSeen.delete(k);
      }
    },
    residentKeys: () => firstSeen.size,
  };
});
