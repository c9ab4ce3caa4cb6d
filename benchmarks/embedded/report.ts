/**
 * The tables of the embedded benchmark (`benchmarks/embedded.bench.ts`): medians and ranges
 * over the repetitions of each case, the dedupe counts check, the heap-per-key table.
 *
 *   node --expose-gc dist/benchmarks/embedded.bench.js --events 20000 --repeat 1
 */
import type { BenchRunResult } from '../../lib/bench/child.js';
import type { BenchCase } from './cases.js';

/** One run of one case, as the child (or baseline) printed it: `tributary bench`'s, plus the heap-per-key case's figures. */
export interface RunResult extends BenchRunResult {
  bytesPerKey?: number;
  residentKeys?: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

function range(xs: readonly number[], fmt: (n: number) => string): string {
  const m = fmt(median(xs));
  return xs.length > 1 ? `${m} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : m;
}

/** The main table: case | events/s (median, min–max) | CPU µs/ev | peak RSS MB | heap MB. */
export function throughputTable(cases: readonly BenchCase[], results: ReadonlyMap<BenchCase, RunResult[]>): string {
  const lines = ['| case | events/s (median, min–max) | CPU µs/ev | peak RSS MB | heap MB |', '|---|---:|---:|---:|---:|'];
  for (const c of cases) {
    const rs = results.get(c) ?? [];
    if (rs.length === 0 || c.spec.kind === 'heap') continue;
    const rate = rs.map((r) => r.events / r.seconds);
    const cpuPerEvent = rs.map((r) => r.cpu / r.events);
    lines.push(`| ${c.name} | ${range(rate, int)} | ${median(cpuPerEvent).toFixed(1)} | ${mb(median(rs.map((r) => r.peakRss)))} | ${mb(median(rs.map((r) => r.heap)))} |`);
  }
  return lines.join('\n');
}

/** The heap-per-key cases: bytes of JS heap per resident key. */
export function heapTable(cases: readonly BenchCase[], results: ReadonlyMap<BenchCase, RunResult[]>): string | undefined {
  const rows = cases.filter((c) => c.spec.kind === 'heap' && (results.get(c)?.length ?? 0) > 0);
  if (rows.length === 0) return undefined;
  const lines = ['| case | resident keys | JS heap bytes/key (median, min–max) | events/s | CPU µs/ev | peak RSS MB |', '|---|---:|---:|---:|---:|---:|'];
  for (const c of rows) {
    const rs = results.get(c) as RunResult[];
    lines.push(`| ${c.name} | ${int(rs[0]?.residentKeys ?? 0)} | ${range(rs.map((r) => r.bytesPerKey ?? NaN), int)} | ${int(median(rs.map((r) => r.events / r.seconds)))} | ${median(rs.map((r) => r.cpu / r.events)).toFixed(1)} | ${mb(median(rs.map((r) => r.peakRss)))} |`);
  }
  return lines.join('\n');
}

const STREAMS = ['events', 'duplicates', 'late', 'dead-letter'] as const;

/**
 * The counts check: every run of every case of the dedupe group must have the same events,
 * duplicates, late and dead-letter counts. Returns the report lines and whether they agree.
 */
export function countsCheck(cases: readonly BenchCase[], results: ReadonlyMap<BenchCase, RunResult[]>): { text: string; ok: boolean } | undefined {
  const group = cases.filter((c) => c.countsGroup === 'dedupe' && (results.get(c)?.length ?? 0) > 0);
  if (group.length === 0) return undefined;
  const signature = (r: RunResult) => STREAMS.map((s) => `${s} ${r.counts?.[s] ?? 0}`).join(', ');
  const all = new Set<string>();
  const lines = group.map((c) => {
    const sigs = [...new Set((results.get(c) as RunResult[]).map(signature))];
    sigs.forEach((s) => all.add(s));
    return `- ${c.name}: ${sigs.join(' | ')}`;
  });
  const ok = all.size === 1;
  return { text: `Dedupe counts (${ok ? 'all equal' : 'MISMATCH'}):\n${lines.join('\n')}`, ok };
}
