/**
 * Sliding-window entries kept in time buckets: a key's entries are split by event time into
 * buckets of a fixed width (`w`, 1/32 of the window, at least a second). The newest bucket is
 * kept in the key's value in `entries` (`l`), with the index of all buckets (their starts and
 * entry counts); every older bucket is one value of the step's `chunks` store under
 * `[key, bucket start]`, written once when a newer bucket begins (and again only when an
 * out-of-order event lands in it). So what a checkpoint (or a Kafka commit) writes for a key is
 * its newest bucket and index, not its whole history: a 90-day window of an active customer used
 * to be re-encoded whole every time it changed, and the per-event work is the same one value as
 * before. Entries no window can include any more are dropped a bucket at a time, once the
 * whole bucket is behind the window (the algorithms skip older entries by time, so the few left
 * in a bucket the window starts inside cost nothing but their bytes). Buckets have no expiry of
 * their own: what is left of a key's buckets goes with its value (the logic deletes both).
 *
 * Only entries that count in some aggregate are kept: an event that counts nowhere (in the
 * cart-abandonment pipeline every event but a purchase) changes no window, so all that is kept
 * of it is the key's latest event time (`lt`), which the query API reports as the end of the
 * key's current window. Earlier versions kept every event's time in its bucket too
 * (`upgrade.ts` reads that layout).
 *
 * {@link ChunkView} reads the buckets as one ordered list ({@link Entries}), loading an older
 * bucket only when an index or a time inside it is asked for.
 *
 * @module
 */
import type { KeyValueStore } from '../../lib/state/store.js';
import { upperBound, type Contribution, type Entries, type EntryList } from '../aggregates/sliding.js';

/** One bucket: the times of its entries (ascending, ties in arrival order) and what each contributes. */
export type Chunk = EntryList;

/** Where a key's buckets are: part of its value in `entries`. */
export interface ChunkIndex {
  /** Bucket width in ms (fixed when the key's first bucket is made). */
  w: number;
  /** Bucket starts, ascending (multiples of `w`). */
  b: number[];
  /** Entries per bucket. */
  m: number[];
  /** The newest bucket's entries (the last of `b`), or null when there is none. */
  l: Chunk | null;
  /** The time of the key's latest event, counting or not (−∞ before the first). */
  lt: number;
}

/** The `chunks` store: `[key, bucket start]` → bucket. */
export type ChunkStore = KeyValueStore<readonly [string, number], Chunk>;

/** The bucket width for a sliding window of `size` ms: 1/32 of it, at least a second. */
export const bucketWidth = (size: number): number => Math.max(1000, Math.ceil(size / 32));

/** An empty index. */
export const emptyIndex = (w: number): ChunkIndex => ({ w, b: [], m: [], l: null, lt: -Infinity });

/** The index of the last bucket starting at or before `x`, or −1. */
function bucketAtOrBefore(b: readonly number[], x: number): number {
  return upperBound(b, x) - 1;
}

/**
 * A key's buckets as one ordered list of its entries ({@link Entries}). Built per operation:
 * the index is not changed while a view is in use.
 */
export class ChunkView implements Entries {
  /** prefix[i]: entries before bucket i. */
  private readonly prefix: number[];
  private loaded: Array<Chunk | undefined> | undefined;
  /** The bucket of the last index asked for (indices are mostly read in order). */
  private at = 0;

  constructor(private readonly index: ChunkIndex, private readonly load: (start: number) => Chunk) {
    const { m } = index;
    this.prefix = new Array<number>(m.length + 1);
    let sum = 0;
    for (let i = 0; i < m.length; i++) {
      this.prefix[i] = sum;
      sum += m[i] as number;
    }
    this.prefix[m.length] = sum;
  }

  get length(): number {
    return this.prefix[this.prefix.length - 1] as number;
  }

  private chunk(i: number): Chunk {
    const { b, l } = this.index;
    if (i === b.length - 1) return l as Chunk;
    const loaded = (this.loaded ??= []);
    let c = loaded[i];
    if (c === undefined) c = loaded[i] = this.load(b[i] as number);
    return c;
  }

  /** The bucket holding entry `j`. */
  private bucketOf(j: number): number {
    const p = this.prefix;
    let i = this.at;
    if (i >= p.length - 1 || (p[i] as number) > j || (p[i + 1] as number) <= j) {
      i = upperBound(p, j) - 1;
      // Skip empty buckets (equal prefixes).
      while ((p[i + 1] as number) <= j) i++;
      this.at = i;
    }
    return i;
  }

  time(j: number): number {
    const i = this.bucketOf(j);
    return this.chunk(i).ts[j - (this.prefix[i] as number)] as number;
  }

  contribution(j: number): Contribution {
    const i = this.bucketOf(j);
    return this.chunk(i).cs[j - (this.prefix[i] as number)] as Contribution;
  }

  upperBound(x: number): number {
    const { b, w } = this.index;
    const i = bucketAtOrBefore(b, x);
    if (i < 0) return 0;
    // Every entry of bucket i is at or before x when x reaches its end: no need to load it.
    if (x >= (b[i] as number) + w - 1) return this.prefix[i + 1] as number;
    return (this.prefix[i] as number) + upperBound(this.chunk(i).ts, x);
  }

  /** The time of the key's latest event (counting or not), or undefined before its first. */
  latest(): number | undefined {
    const lt = this.index.lt;
    return lt === -Infinity ? undefined : lt;
  }
}

/** Inserts `x` at `i` (an append when `i` is the length). */
export function insertAt<T>(list: T[], i: number, x: T): void {
  if (i === list.length) list.push(x);
  else list.splice(i, 0, x);
}

/** A bucket with no entries. */
const emptyChunk = (): Chunk => ({ ts: [], cs: [] });

/**
 * Adds an entry at `t` to its bucket: the newest one (in the index, so the caller's put of the
 * key's value writes it), a new newest one (the previous newest is written to `chunks`), or an
 * older one (an out-of-order event: that bucket is read and written back). An entry that counts
 * nowhere (`contrib` empty) only moves the key's latest time. Returns the entry's index (for
 * {@link ChunkView}), or −1 when it counts nowhere.
 */
export function addEntry(index: ChunkIndex, chunks: ChunkStore, key: string, t: number, contrib: Contribution): number {
  if (t > index.lt) index.lt = t;
  if (contrib.length === 0) return -1;
  const { w, b, m } = index;
  const start = Math.floor(t / w) * w;
  const last = b.length - 1;
  let i: number;
  let chunk: Chunk;
  let older = false;
  if (last < 0 || start > (b[last] as number)) {
    if (last >= 0) chunks.put([key, b[last] as number], index.l as Chunk);
    b.push(start);
    m.push(0);
    i = last + 1;
    chunk = index.l = emptyChunk();
  } else if (start === b[last]) {
    i = last;
    chunk = index.l as Chunk;
  } else {
    older = true;
    i = bucketAtOrBefore(b, start);
    if (i >= 0 && b[i] === start) chunk = chunks.get([key, start]) as Chunk;
    else {
      i++;
      insertAt(b, i, start);
      insertAt(m, i, 0);
      chunk = emptyChunk();
    }
  }
  const local = upperBound(chunk.ts, t);
  insertAt(chunk.ts, local, t);
  insertAt(chunk.cs, local, contrib);
  m[i] = (m[i] as number) + 1;
  let j = local;
  for (let k = 0; k < i; k++) j += m[k] as number;
  if (older) chunks.put([key, start], chunk);
  return j;
}

/** Drops the buckets whose every entry is at or before `x` (entries before a window are never read: a bucket the window starts inside is kept whole). */
export function dropThrough(index: ChunkIndex, chunks: ChunkStore, key: string, x: number): void {
  const { w, b, m } = index;
  let whole = 0;
  while (whole < b.length && (b[whole] as number) + w - 1 <= x) whole++;
  if (whole === 0) return;
  const all = whole === b.length;
  for (let k = 0; k < (all ? whole - 1 : whole); k++) chunks.delete([key, b[k] as number]);
  b.splice(0, whole);
  m.splice(0, whole);
  if (all) index.l = null;
}

/** Deletes every bucket of a key that is in `chunks` (all but the newest). */
export function dropAll(index: Pick<ChunkIndex, 'b'>, chunks: KeyValueStore<readonly [string, number], unknown>, key: string): void {
  for (let k = 0; k < index.b.length - 1; k++) chunks.delete([key, index.b[k] as number]);
}

/** Every entry of a key, its buckets read in order into one list (for tests and tools). */
export function flatten(index: ChunkIndex, load: (start: number) => Chunk): EntryList {
  const out: EntryList = { ts: [], cs: [] };
  for (const [i, start] of index.b.entries()) {
    const chunk = i === index.b.length - 1 ? (index.l as Chunk) : load(start);
    out.ts.push(...chunk.ts);
    out.cs.push(...chunk.cs);
  }
  return out;
}
