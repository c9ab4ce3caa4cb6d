/**
 * The generator's priority queues: a generic binary min-heap (the reorder buffer) and the
 * customers' schedule keyed by next event time.
 */

/** A binary min-heap over a comparator, with in-place replacement of the top. */
export class MinHeap<T> {
  readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    let i = a.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as T;
      if (!this.less(item, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Restores the heap after the top item's key grew. */
  siftDown(i: number): void {
    const a = this.items;
    const n = a.length;
    const item = a[i] as T;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(a[right] as T, a[child] as T)) child = right;
      const c = a[child] as T;
      if (!this.less(c, item)) break;
      a[i] = c;
      i = child;
    }
    a[i] = item;
  }
}

/**
 * The customers' schedule: a binary min-heap of customer indices keyed by (next event time,
 * index), in typed arrays (the hot path of the generator: one sift per event).
 */
export class Schedule {
  private readonly time: Float64Array;
  private readonly id: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.time = new Float64Array(capacity);
    this.id = new Int32Array(capacity);
  }

  /** Index of the customer due next. */
  get top(): number {
    return this.id[0] as number;
  }

  /** Event time of the next event. */
  get topTime(): number {
    return this.time[0] as number;
  }

  add(customer: number, time: number): void {
    const { time: tm, id } = this;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = tm[parent] as number;
      if (pt < time || (pt === time && (id[parent] as number) < customer)) break;
      tm[i] = pt;
      id[i] = id[parent] as number;
      i = parent;
    }
    tm[i] = time;
    id[i] = customer;
  }

  /** Moves the top customer to its new (later) time. */
  rescheduleTop(time: number): void {
    const { time: tm, id } = this;
    const n = this.n;
    const customer = id[0] as number;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = tm[child] as number;
      let cid = id[child] as number;
      const right = child + 1;
      if (right < n) {
        const rt = tm[right] as number;
        const rid = id[right] as number;
        if (rt < ct || (rt === ct && rid < cid)) {
          child = right;
          ct = rt;
          cid = rid;
        }
      }
      if (time < ct || (time === ct && customer < cid)) break;
      tm[i] = ct;
      id[i] = cid;
      i = child;
    }
    tm[i] = time;
    id[i] = customer;
  }
}
