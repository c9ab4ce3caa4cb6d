/**
 * State store throughput: LMDB put + flush, get (committed and buffered), range, expire (index
 * scan, nothing due, everything due), count, small-flush latency (fsync), a dedupe-like steady
 * state, and the memory store for comparison.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/benchmarks/store.bench.js [entries]`
 * (default 200 000 entries; uses a temp dir that it removes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbStoreFactory } from '../lib/state/engines/lmdb/env.js';
import { MemoryStore } from '../lib/state/engines/memory.js';
import type { KeyValueStore } from '../lib/state/store.js';

type Key = [string, number];
interface Window {
  count: number;
  first: number;
  last: number;
  channel: string;
}

const N = Number(process.argv[2] ?? 200_000);
const PEOPLE = Math.max(1, Math.floor(N / 20));
const keyOf = (i: number): Key => [`person-${(i * 7919) % PEOPLE}`, Math.floor(i / PEOPLE) * 60_000];
const valueOf = (i: number): Window => ({ count: i, first: 1_700_000_000_000 + i, last: 1_700_000_000_000 + i * 2, channel: 'web' });

const rows: [string, string, string][] = [];
function report(what: string, ops: number, ms: number): void {
  rows.push([what, `${Math.round((ops / ms) * 1000).toLocaleString('en-US')}/s`, `${((ms * 1000) / ops).toFixed(2)} µs/op`]);
}
function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function putAll(store: KeyValueStore<Key, Window>, expires: boolean): void {
  for (let i = 0; i < N; i++) store.put(keyOf(i), valueOf(i), expires ? { expiresAt: i } : undefined);
}
function getAll(store: KeyValueStore<Key, Window>): number {
  let hits = 0;
  for (let i = 0; i < N; i++) if (store.get(keyOf((i * 104_729) % N)) !== undefined) hits++;
  return hits;
}

async function lmdb(noSync: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-store-bench-'));
  const label = noSync ? 'lmdb noSync' : 'lmdb';
  const stores = new LmdbStoreFactory({ path: dir, noSync });
  try {
    const s = stores.openStore<Key, Window>('windows');
    report(`${label}: flush of 100 puts, fresh env (latency)`, 50, await smallFlushes(stores, s, 50));
    report(`${label}: put (buffered), no expiry`, N, time(() => putAll(s, false)));
    report(`${label}: get (buffered)`, N, time(() => getAll(s)));
    report(`${label}: flush ${N} new entries`, N, await timeAsync(() => stores.flush()));
    report(`${label}: get (committed)`, N, time(() => getAll(s)));
    let seen = 0;
    report(`${label}: range (committed, full scan)`, N, time(() => {
      for (const e of s.range()) seen += e.value.count > -1 ? 1 : 0;
    }));
    report(`${label}: range prefix (one person, ~20 entries)`, 10_000 * 20, time(() => {
      for (let i = 0; i < 10_000; i++) for (const e of s.range({ prefix: [`person-${i % PEOPLE}`] })) seen += e.key.length;
    }));
    report(`${label}: count() (committed)`, 1000, time(() => {
      for (let i = 0; i < 1000; i++) seen += s.count();
    }));
    report(`${label}: put overwrite (buffered) + expiresAt`, N, time(() => putAll(s, true)));
    report(`${label}: count() with ${N} buffered`, 1, time(() => void (seen += s.count())));
    report(`${label}: flush ${N} overwrites + expiry index`, N, await timeAsync(() => stores.flush()));
    const half = Math.floor(N / 2);
    report(`${label}: expire half (committed index scan)`, half, time(() => void (seen += s.expire(half - 1))));
    report(`${label}: flush ${half} expiry deletes`, half, await timeAsync(() => stores.flush()));
    report(`${label}: expire() with nothing due`, 100_000, time(() => {
      for (let i = 0; i < 100_000; i++) seen += s.expire(-1);
    }));
    report(`${label}: expire rest (every entry due: dropped at flush)`, N - half, time(() => void (seen += s.expire(N))));
    report(`${label}: flush dropping ${N - half} entries`, N - half, await timeAsync(() => stores.flush()));
    // After a mass overwrite + mass delete LMDB's freelist is large and every commit pays for it.
    report(`${label}: flush of 100 puts after mass delete (latency)`, 50, await smallFlushes(stores, s, 50));
    if (seen < 0) console.log(seen);
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Total ms of `flushes` flushes of 100 spread-out puts plus a checkpoint. */
async function smallFlushes(stores: LmdbStoreFactory, s: KeyValueStore<Key, Window>, flushes: number): Promise<number> {
  let ms = 0;
  for (let f = 0; f < flushes; f++) {
    for (let i = 0; i < 100; i++) s.put(keyOf(f * 100 + i), valueOf(i));
    stores.putMeta('checkpoint', { position: f });
    ms += await timeAsync(() => stores.flush());
  }
  return ms;
}

/**
 * Dedupe-like steady state: each checkpoint inserts `batch` new random keys with a ttl of 20
 * checkpoints, expires the ones due, and flushes (so ~20 batches stay live). Reports the flush.
 */
async function steadyState(batch: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-store-bench-'));
  const stores = new LmdbStoreFactory({ path: dir });
  try {
    const s = stores.openStore<string, number>('dedupe.seen');
    let flushMs = 0;
    let opMs = 0;
    const rounds = 60;
    for (let b = 0; b < rounds; b++) {
      opMs += time(() => {
        for (let i = 0; i < batch; i++) {
          const k = `evt-${((b * batch + i) * 2_654_435_761) % 4_294_967_296}`;
          if (s.get(k) === undefined) s.put(k, b, { expiresAt: b + 20 });
        }
        s.expire(b);
      });
      stores.putMeta('checkpoint', { position: b });
      const ms = await timeAsync(() => stores.flush());
      if (b >= 30) flushMs += ms;
    }
    report(`lmdb steady state: get+put ${batch} keys + expire (buffered)`, rounds * batch, opMs);
    report(`lmdb steady state: flush ${batch} inserts + ${batch} expiries (${20 * batch} live)`, (rounds - 30) * 2 * batch, flushMs);
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function memory(clone: boolean): void {
  const label = `memory clone=${clone}`;
  const s = new MemoryStore<Key, Window>('windows', { clone });
  report(`${label}: put, no expiry`, N, time(() => putAll(s, false)));
  report(`${label}: get`, N, time(() => getAll(s)));
  report(`${label}: put overwrite + expiresAt`, N, time(() => putAll(s, true)));
  report(`${label}: expire all`, N, time(() => void s.expire(N)));
}

await lmdb(false);
await lmdb(true);
await steadyState(Math.max(100, Math.floor(N / 20)));
memory(true);
memory(false);

const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(`state store benchmark: ${N.toLocaleString('en-US')} entries, tuple keys [person, windowStart], 4-field values; node ${process.version}`);
for (const [what, rate, per] of rows) console.log(`${what.padEnd(w0)}  ${rate.padStart(w1)}  ${per}`);
