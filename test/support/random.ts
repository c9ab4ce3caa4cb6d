import { Random } from '../../lib/generate/random.js';

/** A seeded uniform [0, 1) source for randomized tests (the generator's PRNG). */
export function rng(seed: number): () => number {
  const r = new Random(seed);
  return () => r.next();
}
