/**
 * What identifies an embedded run's input file across runs: its path, size, modification time
 * and a hash of its first and last 64 KiB (read here, at the start of a run). `continuation.ts`
 * decides from two of them whether a run may resume the other's checkpoint.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { InputIdentity } from './continuation.js';
import { readAt } from '../util/read-at.js';

/** Bytes hashed at each end of the file. */
export const SAMPLE_BYTES = 64 * 1024;


/**
 * The identity of `input`: null for stdin (`-`) and anything that is not a regular file (a pipe,
 * a device: reading it to hash it would consume it, and it is never the same input twice).
 *
 * @example
 * ```ts
 * inputIdentity('events.ndjson'); // { path: '/abs/events.ndjson', size: 1048576, mtimeMs: 1.7e12, sample: 'sha256:…' }
 * ```
 */
export function inputIdentity(input: string): InputIdentity {
  if (input === '-' || !statSync(input).isFile()) return null;
  const fd = openSync(input, 'r');
  try {
    const st = fstatSync(fd);
    const hash = createHash('sha256');
    hash.update(readAt(fd, Math.min(SAMPLE_BYTES, st.size), 0));
    if (st.size > SAMPLE_BYTES) hash.update(readAt(fd, Math.min(SAMPLE_BYTES, st.size - SAMPLE_BYTES), Math.max(SAMPLE_BYTES, st.size - SAMPLE_BYTES)));
    return { path: resolve(input), size: st.size, mtimeMs: st.mtimeMs, sample: `sha256:${hash.digest('hex')}` };
  } finally {
    closeSync(fd);
  }
}
