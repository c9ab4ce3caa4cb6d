/**
 * Distinct counting for `countDistinct`: exact (a sorted list of the distinct values) up to
 * {@link EXACT_LIMIT} values, then a HyperLogLog sketch with 2^{@link HLL_PRECISION} = 4096
 * one-byte registers (Flajolet et al. 2007, with the linear-counting correction for small
 * cardinalities). The sketch's relative standard error is 1.04/√4096 ≈ 1.6 %: about two
 * estimates in three are within 1.6 % of the true count and nearly all within 5 %. Hashes are
 * 32-bit (FNV-1a with murmur3's finaliser), good for estimates up to ~10⁸ distinct values.
 *
 * States are plain JSON (strings and arrays), never modified in place: every change returns a
 * new state, so stores may keep them without copying.
 */

import { lowerBound } from '../../lib/util/sorted.js';

/** Exact up to this many distinct values. */
export const EXACT_LIMIT = 1000;
/** log2 of the register count. */
export const HLL_PRECISION = 12;
const M = 1 << HLL_PRECISION;
/** The documented relative standard error of the estimate (1.04/√m). */
export const HLL_STANDARD_ERROR = 1.04 / Math.sqrt(M);

/** Exact: sorted distinct values. Sketch: the registers, one character (code 0..32) each. */
export type DistinctState = { exact: string[] } | { hll: string };

/** 32-bit hash of a string (FNV-1a, then murmur3's fmix32 for avalanche). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function registersOf(values: readonly string[]): Uint8Array {
  const r = new Uint8Array(M);
  for (const v of values) addToRegisters(r, v);
  return r;
}

/** `[register index, rank]` of a value: rank = position of the first 1 bit in the remaining 20 bits (21 when all 0). */
function slot(v: string): [number, number] {
  const h = hash32(v);
  const rest = (h << HLL_PRECISION) >>> 0;
  return [h >>> (32 - HLL_PRECISION), rest === 0 ? 32 - HLL_PRECISION + 1 : Math.clz32(rest) + 1];
}

function addToRegisters(r: Uint8Array, v: string): void {
  const [idx, rank] = slot(v);
  if (rank > (r[idx] as number)) r[idx] = rank;
}

const encode = (r: Uint8Array): string => String.fromCharCode(...r.subarray(0, 2048)) + String.fromCharCode(...r.subarray(2048));
const decode = (s: string): Uint8Array => {
  const r = new Uint8Array(M);
  for (let i = 0; i < M; i++) r[i] = s.charCodeAt(i);
  return r;
};

/** The empty state. */
export const EMPTY_DISTINCT: DistinctState = { exact: [] };

/** Adds one value (already a stable string: see `distinctKey`). */
export function addDistinct(state: DistinctState, v: string): DistinctState {
  if ('hll' in state) {
    // One register changes at most: a string splice, not a decode/encode of all 4096.
    const [idx, rank] = slot(v);
    if (rank <= state.hll.charCodeAt(idx)) return state;
    return { hll: state.hll.slice(0, idx) + String.fromCharCode(rank) + state.hll.slice(idx + 1) };
  }
  const list = state.exact;
  const lo = lowerBound(list, v);
  if (list[lo] === v) return state;
  if (list.length >= EXACT_LIMIT) {
    const r = registersOf(list);
    addToRegisters(r, v);
    return { hll: encode(r) };
  }
  const out = list.slice();
  out.splice(lo, 0, v);
  return { exact: out };
}

/**
 * The state of a set of distinct values, the same as adding them one by one in any order:
 * the sorted list up to {@link EXACT_LIMIT} values, else the registers (a maximum per register).
 */
export function distinctOfSet(values: readonly string[]): DistinctState {
  if (values.length <= EXACT_LIMIT) return { exact: [...values].sort() };
  return { hll: encode(registersOf(values)) };
}

/** The union of two states. */
export function mergeDistinct(a: DistinctState, b: DistinctState): DistinctState {
  if ('exact' in a && 'exact' in b) {
    let out: DistinctState = a;
    for (const v of b.exact) out = addDistinct(out, v);
    return out;
  }
  const ra = 'hll' in a ? decode(a.hll) : registersOf(a.exact);
  const rb = 'hll' in b ? decode(b.hll) : registersOf(b.exact);
  for (let i = 0; i < M; i++) if ((rb[i] as number) > (ra[i] as number)) ra[i] = rb[i] as number;
  return { hll: encode(ra) };
}

/** The count: exact below the limit, else the HyperLogLog estimate (rounded). */
export function countDistinct(state: DistinctState): number {
  if ('exact' in state) return state.exact.length;
  const r = decode(state.hll);
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < M; i++) {
    sum += 2 ** -(r[i] as number);
    if (r[i] === 0) zeros++;
  }
  const alpha = 0.7213 / (1 + 1.079 / M);
  const raw = (alpha * M * M) / sum;
  const estimate = raw <= 2.5 * M && zeros > 0 ? M * Math.log(M / zeros) : raw;
  return Math.round(estimate);
}

/** A stable string for a JSON value (strings and numbers never collide: `s:` / `n:` prefixes). */
export function distinctKey(v: unknown): string {
  if (typeof v === 'string') return `s:${v}`;
  if (typeof v === 'number') return `n:${v}`;
  return `j:${JSON.stringify(v)}`;
}
