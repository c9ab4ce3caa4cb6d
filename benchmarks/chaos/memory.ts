/** Memory samples of a soak (lines the memory probe wrote) summarised: peak, and the trend over the run. */
import { existsSync, readFileSync } from 'node:fs';

export interface MemorySample { s: number; rss: number; heapUsed: number; heapTotal: number }

export interface MemorySummary {
  samples: number;
  seconds: number;
  maxRssMb: number;
  maxHeapMb: number;
  /** Mean heap used over the first and the last quarter of the run (after a warm-up tenth). */
  heapFirstQuarterMb: number;
  heapLastQuarterMb: number;
  rssFirstQuarterMb: number;
  rssLastQuarterMb: number;
  /** Least-squares slope of heap used over the run after warm-up, MB per hour. */
  heapSlopeMbPerHour: number;
}

const MB = 1024 * 1024;

export function readSamples(file: string): MemorySample[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as MemorySample);
}

export function summarise(all: MemorySample[]): MemorySummary {
  const warm = all.slice(Math.floor(all.length / 10));
  const q = Math.max(1, Math.floor(warm.length / 4));
  const mean = (xs: MemorySample[], f: (m: MemorySample) => number) => (xs.length === 0 ? 0 : xs.reduce((a, m) => a + f(m), 0) / xs.length / MB);
  const n = warm.length;
  const mx = warm.reduce((a, m) => a + m.s, 0) / Math.max(1, n);
  const my = warm.reduce((a, m) => a + m.heapUsed, 0) / Math.max(1, n);
  const cov = warm.reduce((a, m) => a + (m.s - mx) * (m.heapUsed - my), 0);
  const varx = warm.reduce((a, m) => a + (m.s - mx) ** 2, 0);
  return {
    samples: all.length,
    seconds: all.at(-1)?.s ?? 0,
    maxRssMb: Math.max(0, ...all.map((m) => m.rss)) / MB,
    maxHeapMb: Math.max(0, ...all.map((m) => m.heapUsed)) / MB,
    heapFirstQuarterMb: mean(warm.slice(0, q), (m) => m.heapUsed),
    heapLastQuarterMb: mean(warm.slice(-q), (m) => m.heapUsed),
    rssFirstQuarterMb: mean(warm.slice(0, q), (m) => m.rss),
    rssLastQuarterMb: mean(warm.slice(-q), (m) => m.rss),
    heapSlopeMbPerHour: varx === 0 ? 0 : ((cov / varx) * 3600) / MB,
  };
}
