/**
 * A small, fast, seeded pseudo-random number generator (sfc32) with the helpers the synthetic
 * event generator needs. Deterministic: the same seed gives the same sequence on every
 * platform (only 32-bit integer arithmetic and `Math.log`/`Math.exp`/`Math.sqrt`/`Math.cos`,
 * which V8 computes identically everywhere it runs Tributary).
 */

/**
 * A 32-bit hash of a list of numbers and strings (murmur3-style mixing), for deriving seeds
 * and ids from `(seed, customer, device)` tuples without consuming the main random stream.
 *
 * @example
 * ```ts
 * const h = hash32(42, 'device', 7); // same inputs → same 32-bit unsigned integer
 * ```
 */
export function hash32(...parts: readonly (number | string)[]): number {
  let h = 0x811c9dc5 ^ parts.length;
  for (const part of parts) {
    if (typeof part === 'number') {
      if (Number.isInteger(part) && part >= -0x80000000 && part <= 0xffffffff) {
        h = mix(h, part | 0);
      } else {
        // Non-32-bit numbers (large or fractional): hash their decimal representation.
        h = mixString(h, String(part));
      }
    } else {
      h = mixString(mix(h, 0x5bd1e995), part);
    }
  }
  return fmix(h) >>> 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return mix(h, s.length);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

const HEX = '0123456789abcdef';

/**
 * Seeded PRNG (sfc32: 128-bit state, period ≥ 2^32, passes PractRand to large sizes) with
 * sampling helpers.
 *
 * @example
 * ```ts
 * const rng = new Random(42);
 * rng.int(1, 6);                          // a die roll
 * rng.pick(['web', 'app']);               // uniform choice
 * rng.logNormal(20_000, 1);               // a gap of about 20s, long-tailed
 * if (rng.chance(0.01)) { ... }           // 1% of the time
 * ```
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed any number or string; equal seeds give equal sequences. */
  constructor(seed: number | string) {
    this.a = hash32(seed, 1);
    this.b = hash32(seed, 2);
    this.c = hash32(seed, 3);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.uint32(); // warm up
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform float in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** A uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /**
   * An index chosen with probability proportional to `weights[i]` (non-negative, not all 0).
   * For a hot path, precompute a {@link WeightedTable} instead.
   */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** An element chosen with probability proportional to its weight. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    return items[this.weightedIndex(weights)] as T;
  }

  /** An exponentially distributed value with the given mean (memoryless gaps). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** A standard normal deviate (Box–Muller). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A log-normally distributed value with the given median and shape `sigma` (long-tailed gaps, prices). */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** `digits` random lowercase hex characters. */
  hex(digits: number): string {
    let s = '';
    let bits = 0;
    let word = 0;
    for (let i = 0; i < digits; i++) {
      if (bits < 4) {
        word = this.uint32();
        bits = 32;
      }
      s += HEX[word & 15];
      word >>>= 4;
      bits -= 4;
    }
    return s;
  }
}

/**
 * A precomputed cumulative table for repeated weighted sampling in O(log n).
 *
 * @example
 * ```ts
 * const zipf = WeightedTable.zipf(1000, 1.1); // rank 0 most popular
 * const rank = zipf.sample(rng);
 * ```
 */
export class WeightedTable {
  private readonly cumulative: Float64Array;

  constructor(weights: readonly number[] | Float64Array) {
    if (weights.length === 0) throw new RangeError('WeightedTable needs at least one weight');
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`invalid weight ${w} at ${i}`);
      total += w;
      this.cumulative[i] = total;
    }
    if (total <= 0) throw new RangeError('WeightedTable weights sum to 0');
  }

  /** Zipf-like popularity over ranks `0..n-1`: weight of rank r is `1 / (r + 1)^s`. */
  static zipf(n: number, s: number): WeightedTable {
    const w = new Float64Array(n);
    for (let r = 0; r < n; r++) w[r] = 1 / Math.pow(r + 1, s);
    return new WeightedTable(w);
  }

  /** Number of entries. */
  get size(): number {
    return this.cumulative.length;
  }

  /** An index chosen with probability proportional to its weight. */
  sample(rng: Random): number {
    const c = this.cumulative;
    const r = rng.next() * (c[c.length - 1] as number);
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((c[mid] as number) > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
