// The output files of embedded runs, compared as multisets.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Each stream's lines of the given output directories, together, sorted (a multiset per stream). */
export function streamMultisets(...dirs: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of dirs) {
    for (const f of readdirSync(d).filter((x) => x.endsWith('.ndjson'))) {
      (out[f.replace(/\.ndjson$/, '')] ??= []).push(...readFileSync(join(d, f), 'utf8').split('\n').filter(Boolean));
    }
  }
  for (const lines of Object.values(out)) lines.sort();
  return out;
}
