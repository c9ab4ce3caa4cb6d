/**
 * Embedded throughput and CPU cost of single operators, pipelines and hand-written baselines
 * on the generated stream:
 *
 *   npm run bench:embedded -- [--events 200000] [--seed 1] [--repeat 3] [--heap-keys 1000000] [--cases dedupe,heap] [--against <dist> [--against-label e4ef838]]
 *   (= npm run build && node --expose-gc dist/benchmarks/embedded.bench.js …)
 *
 * Generates one NDJSON input, then runs every selected case (the list and what each measures:
 * `benchmarks/embedded/cases.ts`) in a fresh child process, `--repeat` times, interleaved (all
 * cases once, then all again…), so a slow phase of a shared machine spreads over the cases.
 * Reports per case the median events/s (min–max), CPU µs per event (user + system of the child
 * during the work, median), peak RSS and heap; the dedupe counts check (Tributary's embedded
 * dedupe vs the baselines: must be equal); the JS heap per resident dedupe key. `--cases` keeps
 * the cases whose name contains one of the comma-separated substrings (case-insensitive).
 * `--against <dist>`: every Tributary case also runs with the child of another build (the `dist`
 * directory of a checkout built at an earlier commit: `git worktree add /tmp/before <rev> && cd
 * /tmp/before && npm ci && npm run build`), interleaved with this build's in the same rounds, its
 * rows named `before (<label>): …`: a change's effect measured beside its baseline, in one run.
 * (Cases the earlier build does not know, such as `floor` before it existed, are skipped.)
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEvents, writeEventsNdjson } from '../lib/generate/index.js';
import { selectCases, type BenchCase } from './embedded/cases.js';
import type { ChildJob } from './embedded/child.js';
import { countsCheck, heapTable, throughputTable, type RunResult } from './embedded/report.js';

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}
function numberOption(name: string, dflt: number): number {
  const v = option(name);
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

const events = numberOption('events', 200_000);
const seed = numberOption('seed', 1);
const repeat = numberOption('repeat', 3);
const heapKeys = numberOption('heap-keys', 1_000_000);
const against = option('against');
const againstLabel = option('against-label') ?? against;
const own = selectCases(option('cases'));
// With --against, each case the earlier build can run is followed by its run there.
const cases = against === undefined
  ? own
  : own.flatMap((c) => (c.spec.kind === 'baseline' || c.spec.kind === 'floor' ? [c] : [c, { ...c, name: `before (${againstLabel}): ${c.name}`, dist: against, countsGroup: undefined }]));
if (cases.length === 0) throw new Error(`no case matches --cases ${option('cases')}`);

const childScript = fileURLToPath(new URL('./embedded/child.js', import.meta.url));
const baselineScript = (name: string) => fileURLToPath(new URL(`../lib/bench/baselines/${name}.js`, import.meta.url));

/** Runs one case in a new process and parses the JSON line it prints last. */
function runCase(c: BenchCase, input: string, dir: string): RunResult {
  let argv: string[];
  if (c.spec.kind === 'baseline') argv = [baselineScript(c.spec.script), input, join(dir, `out-${c.spec.script}`)];
  else {
    const job: ChildJob = { spec: c.spec, input, events, seed, heapKeys };
    argv = [c.dist === undefined ? childScript : join(c.dist, 'benchmarks', 'embedded', 'child.js'), JSON.stringify(job)];
  }
  const stdout = execFileSync(process.execPath, ['--expose-gc', ...argv], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  const result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as RunResult;
  if (c.spec.kind === 'baseline') rmSync(join(dir, `out-${c.spec.script}`), { recursive: true, force: true });
  return result;
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
try {
  const input = join(dir, 'events.ndjson');
  if (cases.some((c) => c.spec.kind === 'embedded' || c.spec.kind === 'baseline')) {
    await writeEventsNdjson(generateEvents({ events, seed }), createWriteStream(input), { end: true });
  }
  const results = new Map<BenchCase, RunResult[]>(cases.map((c) => [c, []]));
  for (let round = 1; round <= repeat; round++) {
    for (const c of cases) {
      const r = runCase(c, input, dir);
      (results.get(c) as RunResult[]).push(r);
      const extra = r.bytesPerKey === undefined ? '' : `, ${Math.round(r.bytesPerKey)} B heap/key`;
      console.error(`[${round}/${repeat}] ${c.name}: ${Math.round(r.events / r.seconds)} events/s, ${(r.cpu / r.events).toFixed(1)} CPU µs/event${extra}`);
    }
  }
  const check = countsCheck(cases, results);
  const heap = heapTable(cases, results);
  console.log(`\n${events} generated events (seed ${seed}), ${repeat} interleaved runs per case, one process per case\n`);
  console.log(throughputTable(cases, results));
  if (heap) console.log(`\nJS heap per resident dedupe key (${heapKeys} unique messageIds, ttl 10 years, after a full GC):\n\n${heap}`);
  if (check) console.log(`\n${check.text}`);
  console.log(`\ncommand: ${['node', ...process.execArgv, relative(process.cwd(), process.argv[1] as string), ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  console.log(`node ${process.version} (${process.platform} ${process.arch})`);
  if (check && !check.ok) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
