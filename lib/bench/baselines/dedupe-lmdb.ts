/**
 * Baseline: the same hand-written dedupe as `dedupe-map.ts` (the rules, outputs and checkpoints
 * of `dedupe-loop.ts`: the same counts as Tributary's embedded `dedupe: { ttl: 24h, output:
 * duplicates }`), with its state in LMDB through lmdb-js instead of a Map:
 *
 *   node dist/lib/bench/baselines/dedupe-lmdb.js <input.ndjson> <out-dir>
 *
 * - a read looks in the checkpoint's write set (a Map) first, then LMDB (`getBinaryFast`; the
 *   value is the first-seen time as a float64);
 * - every 10 000 input records (and at the end), after the outputs were fsynced, a checkpoint
 *   commits one LMDB transaction (`transactionSync`, fsync on commit): the write set into `seen`, an
 *   `[expiresAt, messageId]` entry per write into the `expiry` index, and the deletion of every
 *   entry the watermark has passed (an index range scan from the start; an index entry whose key
 *   was re-armed since only loses its index entry).
 * Expiry at checkpoints rather than per event changes no result: an expired entry can only match
 * an event older than the watermark, which is late.
 *
 * State goes to `<out-dir>/lmdb-state` (removed first).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { runDedupeBaseline, TTL_MS } from './dedupe-loop.js';

await runDedupeBaseline('dedupe-lmdb', (outDir) => {
  const statePath = join(outDir, 'lmdb-state');
  rmSync(statePath, { recursive: true, force: true });
  const env = open({ path: statePath, maxDbs: 4 });
  const seen = env.openDB<Buffer, string>({ name: 'seen', encoding: 'binary' });
  const expiryIndex = env.openDB<Buffer, [number, string]>({ name: 'expiry', encoding: 'binary' });
  const PLACEHOLDER = Buffer.alloc(1);
  const value = Buffer.alloc(8);
  /** messageId → first-seen time written since the last checkpoint. */
  const writeSet = new Map<string, number>();
  return {
    firstSeen(key) {
      const pending = writeSet.get(key);
      if (pending !== undefined) return pending;
      const stored = seen.getBinaryFast(key);
      return stored === undefined ? undefined : stored.readDoubleLE(0);
    },
    remember: (key, t) => void writeSet.set(key, t),
    checkpoint(watermark) {
      env.transactionSync(() => {
        for (const [key, f] of writeSet) {
          value.writeDoubleLE(f, 0);
          seen.putSync(key, value);
          expiryIndex.putSync([f + TTL_MS, key], PLACEHOLDER);
        }
        writeSet.clear();
        const due: [number, string][] = [];
        for (const k of expiryIndex.getKeys()) {
          if (k[0] >= watermark) break;
          due.push(k);
        }
        for (const k of due) {
          expiryIndex.removeSync(k);
          const stored = seen.getBinaryFast(k[1]);
          // Deleted only if not re-armed since (its first-seen time is still the expired one).
          if (stored !== undefined && stored.readDoubleLE(0) + TTL_MS === k[0]) seen.removeSync(k[1]);
        }
      });
    },
    residentKeys: () => seen.getCount(),
    close: () => env.close(),
  };
});
