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

/** Min-heap of (expiresAt, key) in parallel arrays. */
class ExpiryHeap {
  private readonly times: number[] = [];
  private readonly keys: string[] = [];

  get size(): number {
    return this.times.length;
  }

  /** The smallest expiry time (only when size > 0). */
  peekTime(): number {
    return this.times[0] as number;
  }

  push(time: number, key: string): void {
    const { times, keys } = this;
    let i = times.length;
    times.push(time);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((times[parent] as number) <= time) break;
      times[i] = times[parent] as number;
      keys[i] = keys[parent] as string;
      i = parent;
    }
    times[i] = time;
    keys[i] = key;
  }

  /** Removes the top entry and returns its key. */
  pop(): string {
    const { times, keys } = this;
    const top = keys[0] as string;
    const lastTime = times.pop() as number;
    const lastKey = keys.pop() as string;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && (times[child + 1] as number) < (times[child] as number)) child++;
        if ((times[child] as number) >= lastTime) break;
        times[i] = times[child] as number;
        keys[i] = keys[child] as string;
        i = child;
      }
      times[i] = lastTime;
      keys[i] = lastKey;
    }
    return top;
  }
}

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
