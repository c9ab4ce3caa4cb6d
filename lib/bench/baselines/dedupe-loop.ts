/**
 * The record loop both hand-written dedupe baselines share (`dedupe-map.ts`, `dedupe-lmdb.ts`);
 * only where the first-seen times live differs, handed in as a {@link DedupeState}. The rules
 * are Tributary's `dedupe: { ttl: 24h, output: duplicates }` with `source: { key: [anonymousId,
 * userId], allowedLateness: 1m }`:
 *
 * - watermark = max event time seen − 1m; an event older than the watermark is late (`late.ndjson`);
 * - a duplicate is an event whose messageId was first seen at f with |t − f| ≤ 24h
 *   (`duplicates.ndjson`, the event plus duplicateKey and firstSeenAt); otherwise it passes
 *   (`events.ndjson`: the input line itself) and starts a new 24h window for its messageId;
 * - every 10 000 input records (and at the end) a checkpoint: the outputs fsynced, then the
 *   state's own `checkpoint`.
 *
 * Prints one JSON line: events (input records), seconds, cpu (user + system µs), the output
 * counts, resident keys, peakRss and heap (bytes), and latency: p50/p99 seconds of the time one
 * record takes (parse, dedupe, output write), exact over every 64th record (as the runtime samples).
 */
import { forEachLine, memory, openOutputs, parseLine, passedLine, type Outputs } from './io.js';

export const TTL_MS = 24 * 3_600_000;
const ALLOWED_LATENESS_MS = 60_000;
const CHECKPOINT_EVERY = 10_000;

/** Where a baseline keeps the first-seen time of each messageId. */
export interface DedupeState {
  firstSeen(key: string): number | undefined;
  /** The event `key` passed at `t`: a new 24h window. */
  remember(key: string, t: number): void;
  /** After each event that is not late: expire what the watermark has passed (if done per event). */
  expire?(watermark: number): void;
  /** After the outputs were fsynced (every 10 000 records and at the end). */
  checkpoint?(watermark: number): void;
  /** Keys held at the end. */
  residentKeys(): number;
  close?(): Promise<void>;
}

/** Runs the baseline named `name` over `input` into `outDir` with `open(outputs)` as its state. */
export async function runDedupeBaseline(name: string, open: (outDir: string) => DedupeState): Promise<void> {
  const [input, outDir] = process.argv.slice(2);
  if (!input || !outDir) {
    console.error(`usage: node dist/lib/bench/baselines/${name}.js <input.ndjson> <out-dir>`);
    process.exit(2);
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out: Outputs = openOutputs(outDir);
  const state = open(outDir);
  let maxEventTime = -Infinity;
  let watermark = -Infinity;
  let records = 0;
  const checkpoint = () => {
    out.events.sync();
    out.duplicates.sync();
    out.late.sync();
    out.deadLetter.sync();
    state.checkpoint?.(watermark);
  };

  /** Processing time (ms) of every 64th record. */
  const samples: number[] = [];
  forEachLine(input, (line) => {
    records++;
    const sampled = (records & 63) === 0;
    const r0 = sampled ? performance.now() : 0;
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
        const first = state.firstSeen(key);
        if (first !== undefined && Math.abs(p.t - first) <= TTL_MS) {
          out.duplicates.write(JSON.stringify({ ...p.event, timestamp: p.t, duplicateKey: key, firstSeenAt: first }));
        } else {
          state.remember(key, p.t);
          out.events.write(passedLine(line, p));
        }
      }
      state.expire?.(watermark);
    }
    if (sampled) samples.push(performance.now() - r0);
    if (records % CHECKPOINT_EVERY === 0) checkpoint();
  });
  checkpoint();
  for (const o of Object.values(out)) o.close();
  const residentKeys = state.residentKeys();
  await state.close?.();

  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({
    baseline: name,
    events: records,
    seconds: (performance.now() - t0) / 1000,
    cpu: cpu.user + cpu.system,
    counts: { events: out.events.count, duplicates: out.duplicates.count, late: out.late.count, 'dead-letter': out.deadLetter.count },
    residentKeys,
    latency: sampleQuantiles(samples),
    ...memory(),
  }));
}

/** p50 and p99 (seconds) of samples in ms, nearest rank; 0 when there are none. */
function sampleQuantiles(ms: number[]): { p50: number; p99: number; method: 'samples' } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (s.length === 0 ? 0 : (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number) / 1000);
  return { p50: at(0.5), p99: at(0.99), method: 'samples' };
}
