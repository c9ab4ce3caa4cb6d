/**
 * One case of the embedded benchmark, in its own process (so peak RSS is its own). Started by
 * `benchmarks/embedded.bench.ts` as
 *
 *   node --expose-gc dist/benchmarks/embedded/child.js '<job JSON>'
 *
 * with the job `{ spec, input, events, seed, heapKeys }`; prints one JSON line: events,
 * seconds, cpu (user + system µs, `process.cpuUsage()` around the work only: setup such as
 * compiling the pipeline or generating in-memory events excluded), peakRss (the process's
 * max RSS, setup included), heap (heapUsed after the work, no forced GC), and counts per output stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, from, lastValueFrom } from 'rxjs';
import { generateEvents } from '../../lib/generate/index.js';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import * as ops from '../../operators/index.js';
import type { CaseSpec } from './cases.js';
import { pipelineFloor } from '../../lib/bench/floor.js';
import { heapPerKey, runTaskAlone, withForgets, type Measured } from './task-alone.js';

export interface ChildJob {
  spec: CaseSpec;
  /** The generated NDJSON file (embedded cases). */
  input: string;
  events: number;
  seed: number;
  heapKeys: number;
}

/** The embedded runner over the input file; its run summary gives the counts. */
async function embedded(yaml: string, input: string): Promise<Measured> {
  const topology = compilePipeline(parsePipeline(yaml, '<bench>', ops.defaultRegistry), ops.defaultRegistry);
  const outDir = mkdtempSync(join(tmpdir(), 'tributary-bench-embedded-'));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await runEmbedded({ topology, input, outDir });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  rmSync(outDir, { recursive: true, force: true });
  return { events: summary.records, seconds, cpu: cpu.user + cpu.system, counts: summary.streams };
}

/** The pipeable RxJS operator over in-memory events (memory state). */
async function rx(operator: 'dedupe' | 'joinIdentity' | 'sessionize', events: number, seed: number): Promise<Measured> {
  const make = {
    dedupe: () => ops.dedupe({ ttl: '24h', allowedLateness: '1m' }),
    joinIdentity: () => ops.joinIdentity({ allowedLateness: '1m' }),
    sessionize: () => ops.sessionize({ key: ['userId', 'anonymousId'], gap: '30m', allowedLateness: '1m' }),
  }[operator];
  const list = [...generateEvents({ events, seed })];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const passed = await lastValueFrom(from(list).pipe(make(), count()));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { events: list.length, seconds, cpu: cpu.user + cpu.system, counts: { events: passed } };
}

async function run(job: ChildJob): Promise<Measured> {
  const { spec } = job;
  switch (spec.kind) {
    case 'embedded':
      return embedded(spec.yaml, job.input);
    case 'task': {
      const events = [...generateEvents({ events: job.events, seed: job.seed })];
      // Long histories: every event given to one of `keys` users, in turn.
      const folded = spec.keys === undefined ? events : events.map((e, i) => ({ ...e, userId: `u${i % (spec.keys as number)}`, anonymousId: null }));
      return runTaskAlone(spec.yaml, withForgets(folded, spec.forgetEvery));
    }
    case 'rx':
      return rx(spec.operator, job.events, job.seed);
    case 'heap':
      return heapPerKey(spec.state, job.heapKeys);
    case 'floor':
      return pipelineFloor(spec.yaml, '<bench>', job.input, ops.defaultRegistry);
    case 'baseline':
      throw new Error('baselines are scripts of their own (lib/bench/baselines/)');
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
const measured = await run(job);
const heap = process.memoryUsage().heapUsed;
console.log(JSON.stringify({ ...measured, peakRss: process.resourceUsage().maxRSS * 1024, heap }));
