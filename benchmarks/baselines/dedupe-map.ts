/**
 * Baseline: the dedupe a Node engineer would write by hand, state in a `Map`. Same rules as
 * Tributary's `dedupe: { ttl: 24h, output: duplicates }` with `source: { key: [anonymousId,
 * userId], allowedLateness: 1m }`, so the counts must equal the embedded runner's:
 *
 *   node dist/benchmarks/baselines/dedupe-map.js <input.ndjson> <out-dir>
 *
 * - watermark = max event time seen − 1m; an event older than the watermark is late (`late.ndjson`);
 * - a duplicate is an event whose messageId was first seen at f with |t − f| ≤ 24h
 *   (`duplicates.ndjson`, the event plus duplicateKey and firstSeenAt); otherwise it passes
 *   (`events.ndjson`: the input line itself) and starts a new 24h window for its messageId;
 * - an entry expires once the watermark passes f + 24h (a min-heap of expiry times);
 * - outputs buffered, fsynced every 10 000 input records (a checkpoint) and at the end.
 *
 * Prints one JSON line: events (input records), seconds, cpu (user + system µs), the output
 * counts, peakRss and heap (bytes).
 */
import { forEachLine, memory, openOutputs, parseLine, passedLine } from './io.js';

const TTL_MS = 24 * 3_600_000;
const ALLOWED_LATENESS_MS = 60_000;
const CHECKPOINT_EVERY = 10_000;

/** Min-heap of (expiresAt, key) in parallel arrays. */
class ExpiryHeap {
  private readonly times: number[] = [];
  private readonly keys: string[] = [];

  get size(): number {
    return this.times.length;
  }

  /** The smallest expiry time (only when size > 0). */
  peekTime(): number {
    return this.times[0] as number;
  }

  push(time: number, key: string): void {
    const { times, keys } = this;
    let i = times.length;
    times.push(time);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((times[parent] as number) <= time) break;
      times[i] = times[parent] as number;
      keys[i] = keys[parent] as string;
      i = parent;
    }
    times[i] = time;
    keys[i] = key;
  }

  /** Removes the top entry and returns its key. */
  pop(): string {
    const { times, keys } = this;
    const top = keys[0] as string;
    const lastTime = times.pop() as number;
    const lastKey = keys.pop() as string;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && (times[child + 1] as number) < (times[child] as number)) child++;
        if ((times[child] as number) >= lastTime) break;
        times[i] = times[child] as number;
        keys[i] = keys[child] as string;
        i = child;
      }
      times[i] = lastTime;
      keys[i] = lastKey;
    }
    return top;
  }
}

const [input, outDir] = process.argv.slice(2);
if (!input || !outDir) {
  console.error('usage: node dist/benchmarks/baselines/dedupe-map.js <input.ndjson> <out-dir>');
  process.exit(2);
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const out = openOutputs(outDir);
const firstSeen = new Map<string, number>();
const expiry = new ExpiryHeap();
let maxEventTime = -Infinity;
let watermark = -Infinity;
let records = 0;

const checkpoint = () => {
  out.events.sync();
  out.duplicates.sync();
  out.late.sync();
  out.deadLetter.sync();
};

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
      const first = firstSeen.get(key);
      if (first !== undefined && Math.abs(p.t - first) <= TTL_MS) {
        out.duplicates.write(JSON.stringify({ ...p.event, timestamp: p.t, duplicateKey: key, firstSeenAt: first }));
      } else {
        firstSeen.set(key, p.t);
        expiry.push(p.t + TTL_MS, key);
        out.events.write(passedLine(line, p));
      }
    }
    // Expire what the watermark has passed (f + ttl < watermark). A key re-armed since keeps its
    // newer entry: its heap entry for the old f is skipped.
    while (expiry.size > 0 && expiry.peekTime() < watermark) {
      const k = expiry.pop();
      const f = firstSeen.get(k);
      if (f !== undefined && f + TTL_MS < watermark) firstSeen.delete(k);
    }
  }
  if (records % CHECKPOINT_EVERY === 0) checkpoint();
});
checkpoint();
for (const o of Object.values(out)) o.close();

const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  baseline: 'dedupe-map',
  events: records,
  seconds: (performance.now() - t0) / 1000,
  cpu: cpu.user + cpu.system,
  counts: { events: out.events.count, duplicates: out.duplicates.count, late: out.late.count, 'dead-letter': out.deadLetter.count },
  residentKeys: firstSeen.size,
  ...memory(),
}));
