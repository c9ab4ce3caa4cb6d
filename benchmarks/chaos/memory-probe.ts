/**
 * Preloaded into a runner process (`node --import dist/benchmarks/chaos/memory-probe.js …`):
 * appends `process.memoryUsage()` as one JSON line to $CHAOS_MEMORY_LOG every
 * $CHAOS_MEMORY_EVERY_MS (default 5000), so a soak sees the heap of the CLI it runs, not only RSS.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.CHAOS_MEMORY_LOG;
const every = Number(process.env.CHAOS_MEMORY_EVERY_MS ?? 5000);
if (file) {
  const t0 = performance.now();
  const sample = () => {
    const m = process.memoryUsage();
    const line = { s: Math.round((performance.now() - t0) / 1000), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // the probe never takes the process down
    }
  };
  sample();
  setInterval(sample, every).unref();
}
