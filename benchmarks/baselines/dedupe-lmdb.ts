/**
 * Baseline: the same hand-written dedupe as `dedupe-map.ts` (same rules, same outputs, same
 * counts as Tributary's embedded `dedupe: { ttl: 24h, output: duplicates }`), with its state in
 * LMDB through lmdb-js instead of a Map:
 *
 *   node dist/benchmarks/baselines/dedupe-lmdb.js <input.ndjson> <out-dir>
 *
 * - a read looks in the checkpoint's write set (a Map) first, then LMDB (`getBinaryFast`; the
 *   value is the first-seen time as a float64);
 * - every 10 000 input records (and at the end) a checkpoint fsyncs the outputs, then commits
 *   one LMDB transaction (`transactionSync`, fsync on commit): the write set into `seen`, an
 *   `[expiresAt, messageId]` entry per write into the `expiry` index, and the deletion of every
 *   entry the watermark has passed (an index range scan from the start; an index entry whose key
 *   was re-armed since only loses its index entry).
 * Expiry at checkpoints rather than per event changes no result: an expired entry can only match
 * an event older than the watermark, which is late.
 *
 * State goes to `<out-dir>/lmdb-state` (removed first). Prints one JSON line: events (input
 * records), seconds, cpu (user + system µs), the output counts, peakRss and heap (bytes).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { forEachLine, memory, openOutputs, parseLine, passedLine } from './io.js';

const TTL_MS = 24 * 3_600_000;
const ALLOWED_LATENESS_MS = 60_000;
const CHECKPOINT_EVERY = 10_000;

const [input, outDir] = process.argv.slice(2);
if (!input || !outDir) {
  console.error('usage: node dist/benchmarks/baselines/dedupe-lmdb.js <input.ndjson> <out-dir>');
  process.exit(2);
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const out = openOutputs(outDir);
const statePath = join(outDir, 'lmdb-state');
rmSync(statePath, { recursive: true, force: true });
const env = open({ path: statePath, maxDbs: 4 });
const seen = env.openDB<Buffer, string>({ name: 'seen', encoding: 'binary' });
const expiryIndex = env.openDB<Buffer, [number, string]>({ name: 'expiry', encoding: 'binary' });
const PLACEHOLDER = Buffer.alloc(1);
const value = Buffer.alloc(8);

/** messageId → first-seen time written since the last checkpoint. */
const writeSet = new Map<string, number>();
let maxEventTime = -Infinity;
let watermark = -Infinity;
let records = 0;

function firstSeen(key: string): number | undefined {
  const pending = writeSet.get(key);
  if (pending !== undefined) return pending;
  const stored = seen.getBinaryFast(key);
  return stored === undefined ? undefined : stored.readDoubleLE(0);
}

function checkpoint(): void {
  out.events.sync();
  out.duplicates.sync();
  out.late.sync();
  out.deadLetter.sync();
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
      if (stored !== undefined && stored.readDoubleLE(0) + TTL_MS === k[0]) {
        seen.removeSync(k[1]);
      }
    }
  });
}

forEachLine(input, (line) => {
  records++;
  const p = parseLine(line);
  if (!p.ok) {
    out.deadLetter.write(JSON.stringify({ reason: p.reason, raw: line, source: `${input}:${records}` }));
  } else if (p.t < watermark) {
    out.late.write(JSON.stringify({ ...p.event, timestamp: p.t, watermark }));
  } else {
    if (p.t > maxEventTime) {
      maxEventTime = p.t;
      watermark = Math.max(watermark, maxEventTime - ALLOWED_LATENESS_MS);
    }
    const key = p.messageId;
    if (key === undefined) {
      out.deadLetter.write(JSON.stringify({ reason: 'missing-key', raw: line, source: `${input}:${records}` }));
    } else {
      const first = firstSeen(key);
      if (first !== undefined && Math.abs(p.t - first) <= TTL_MS) {
        out.duplicates.write(JSON.stringify({ ...p.event, timestamp: p.t, duplicateKey: key, firstSeenAt: first }));
      } else {
        writeSet.set(key, p.t);
        out.events.write(passedLine(line, p));
      }
    }
  }
  if (records % CHECKPOINT_EVERY === 0) checkpoint();
});
checkpoint();
for (const o of Object.values(out)) o.close();
const residentKeys = seen.getCount();
await env.close();

const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  baseline: 'dedupe-lmdb',
  events: records,
  seconds: (performance.now() - t0) / 1000,
  cpu: cpu.user + cpu.system,
  counts: { events: out.events.count, duplicates: out.duplicates.count, late: out.late.count, 'dead-letter': out.deadLetter.count },
  residentKeys,
  ...memory(),
}));
