/**
 * Preloaded into a runner process (`node --import dist/benchmarks/chaos/memory-probe.js …`):
 * appends `process.memoryUsage()` as one JSON line to $CHAOS_MEMORY_LOG every
 * $CHAOS_MEMORY_EVERY_MS (default 5000), so a soak sees the heap of the CLI it runs, not only RSS
 * (and on Linux the resident bytes split into anonymous and file-backed: LMDB's map is the latter).
 */
import { appendFileSync, readFileSync } from 'node:fs';

/** Linux: resident memory split into anonymous (heaps, malloc) and file-backed (LMDB's map, code), in bytes. */
function residentSplit(): { anon: number; file: number } | undefined {
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    const rss = kb('Rss');
    const anon = kb('Anonymous');
    return Number.isFinite(rss) && Number.isFinite(anon) ? { anon, file: rss - anon } : undefined;
  } catch {
    return undefined;
  }
}

const file = process.env.CHAOS_MEMORY_LOG;
const every = Number(process.env.CHAOS_MEMORY_EVERY_MS ?? 5000);
if (file) {
  const t0 = performance.now();
  const sample = () => {
    const m = process.memoryUsage();
    const line = { s: Math.round((performance.now() - t0) / 1000), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, ...residentSplit() };
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // the probe never takes the process down
    }
  };
  sample();
  setInterval(sample, every).unref();
}
