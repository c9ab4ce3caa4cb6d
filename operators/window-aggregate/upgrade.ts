/**
 * Reading sliding-window state written by earlier layouts into the current one
 * (`state.ts`): a pure function of the stored value and its buckets ({@link upgradeSliding});
 * the logic writes what it returns when it opens, and the query API reads it without writing.
 *
 * The earlier layouts, newest first:
 * - buckets that kept every event's time (`n` per bucket; a bucket `{ ts, c: { ts, cs } }`,
 *   `c` the counting entries among `ts`);
 * - every entry in the key's value: `ts` with `c`;
 * - every entry in the key's value: `ts` with `cs`, one contribution list per entry.
 *
 * Only the counting entries and the time of the key's latest event are carried over: the times
 * of events that count nowhere were read for nothing else.
 *
 * @module
 */
import type { Contribution, EntryList } from '../aggregates/sliding.js';
import { emptyIndex, type Chunk, type ChunkIndex } from './chunks.js';
import { beforeBuckets, isTimed, type SlidingState, type SlidingStateV1, type SlidingStateV2, type StoredSliding, type TimedChunk } from './state.js';

/** A value of an earlier layout in the current one. */
export interface Upgraded {
  /** The key's new value. */
  state: SlidingState;
  /** Its older buckets (all but the newest), to write under `[key, start]`. */
  chunks: Map<number, Chunk>;
  /** Starts of buckets the earlier layout wrote that the new one does not have, to delete. */
  stale: number[];
}

/** Splits counting entries (ascending) into buckets of width `w`; `lt` is the key's latest event time. */
function bucketsOf(c: EntryList, w: number, lt: number): { index: ChunkIndex; chunks: Map<number, Chunk> } {
  const index = emptyIndex(w);
  index.lt = lt;
  const chunks = new Map<number, Chunk>();
  c.ts.forEach((t, k) => {
    const start = Math.floor(t / w) * w;
    let chunk = chunks.get(start);
    if (chunk === undefined) {
      chunks.set(start, (chunk = { ts: [], cs: [] }));
      index.b.push(start);
      index.m.push(0);
    }
    chunk.ts.push(t);
    chunk.cs.push(c.cs[k] as Contribution);
    index.m[index.m.length - 1] = (index.m.at(-1) as number) + 1;
  });
  const newest = index.b.at(-1);
  if (newest !== undefined) {
    index.l = chunks.get(newest) as Chunk;
    chunks.delete(newest);
  }
  return { index, chunks };
}

/**
 * The value `stored` (of an earlier layout) in the current layout. `w`: the bucket width for a
 * value that had no buckets; `load`: a bucket the timed layout wrote to `chunks`.
 */
export function upgradeSliding(stored: Exclude<StoredSliding, SlidingState>, w: number, load: (start: number) => TimedChunk): Upgraded {
  if (isTimed(stored)) {
    const { n: _n, m: _m, b, l, w: width, ...rest } = stored;
    const c: EntryList = { ts: [], cs: [] };
    let lt = -Infinity;
    b.forEach((start, i) => {
      const chunk = i === b.length - 1 ? (l as TimedChunk) : load(start);
      c.ts.push(...chunk.c.ts);
      c.cs.push(...chunk.c.cs);
      lt = Math.max(lt, chunk.ts.at(-1) ?? -Infinity);
    });
    const { index, chunks } = bucketsOf(c, width, lt);
    // Every bucket the timed layout wrote (all but its newest) is rewritten or deleted.
    const stale = b.slice(0, -1).filter((start) => !chunks.has(start));
    return { state: { ...rest, ...index }, chunks, stale };
  }
  const { ts, c, ...rest } = beforeBuckets(stored as SlidingStateV2 | SlidingStateV1);
  const { index, chunks } = bucketsOf(c, w, ts.at(-1) ?? -Infinity);
  return { state: { ...rest, ...index } as SlidingState, chunks, stale: [] };
}
