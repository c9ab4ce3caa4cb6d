// The min-heap of expiry times the hand-written Map baselines use (`dedupe-map.ts`, `dedupe-kafka.ts`).

/** Min-heap of (expiresAt, key) in parallel arrays. */
export class ExpiryHeap {
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
