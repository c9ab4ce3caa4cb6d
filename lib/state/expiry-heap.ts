/**
 * A min-heap of (expiresAt, item) pairs: what the caching layer pops when the watermark passes an
 * expiry. Superseded pairs are left in place and skipped by the caller when popped.
 *
 * @example
 * ```ts
 * const heap = new ExpiryHeap<string>();
 * heap.push(20, 'b');
 * heap.push(10, 'a');
 * heap.nextAt(); // 10
 * heap.pop();    // 'a'
 * ```
 */
export class ExpiryHeap<T> {
  private at: number[] = [];
  private items: T[] = [];

  get size(): number {
    return this.at.length;
  }

  /** The smallest expiry, +∞ when empty. */
  nextAt(): number {
    return this.at.length > 0 ? this.at[0]! : Infinity;
  }

  push(at: number, item: T): void {
    const a = this.at;
    const s = this.items;
    let i = a.length;
    a.push(at);
    s.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      s[i] = s[p]!;
      i = p;
    }
    a[i] = at;
    s[i] = item;
  }

  /** Removes and returns the item with the smallest expiry (the heap must not be empty). */
  pop(): T {
    const a = this.at;
    const s = this.items;
    const top = s[0]!;
    const lastAt = a.pop()!;
    const lastItem = s.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1]! < a[c]!) c++;
        if (a[c]! >= lastAt) break;
        a[i] = a[c]!;
        s[i] = s[c]!;
        i = c;
      }
      a[i] = lastAt;
      s[i] = lastItem;
    }
    return top;
  }

  clear(): void {
    this.at = [];
    this.items = [];
  }

  /** Replaces the content with `pairs`. */
  rebuild(pairs: Iterable<[number, T]>): void {
    this.clear();
    for (const [at, item] of pairs) this.push(at, item);
  }
}
