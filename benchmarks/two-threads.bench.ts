/**
 * Experiment, not a runtime: would the cart-abandonment pipeline go faster embedded if its steps
 * ran on two threads? Runs the pipeline over one generated input two ways, each in a fresh
 * process, interleaved for `--repeat` rounds:
 *
 *   npm run build && node dist/benchmarks/two-threads.bench.js [--events 200000] [--seed 1] [--repeat 3] [--split 3]
 *
 * - **one thread**: the embedded runner as `tributary run` runs it (`runEmbedded`);
 * - **two threads**: the main thread reads and decodes the input and runs the first `--split`
 *   steps in a `Task`; the events leaving them go, as JSON text in batches of 512, to a worker
 *   thread that runs the other steps in a second `Task` (its stores in a second LMDB directory)
 *   and writes the `events` sink. Watermarks go along in the same batches, so that the worker
 *   sees each event under the watermark the single thread would (the watermark first, without
 *   firing; then the event; then what is due fires), and its steps fire in the same order.
 *   Both threads checkpoint every 10,000 records (outputs fsynced, state committed), but not as
 *   one consistent snapshot: this measures throughput only, and resuming is not possible.
 *
 * Every output file of the two-thread run is compared byte for byte with the one-thread run's
 * (a mismatch fails the benchmark). Prints events/s and CPU µs per event (the whole process:
 * every thread, V8's helper threads included) per way, and the CPU of the main and the worker
 * thread apart (Linux, `/proc/thread-self/stat`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import type { TributaryEvent } from '../lib/event/event.js';
import { createMetrics } from '../lib/metrics/metrics.js';
import { compilePipeline, type Topology } from '../lib/pipeline/compile.js';
import { parsePipeline } from '../lib/pipeline/load.js';
import { runEmbedded } from '../lib/runtime/embedded.js';
import { FileSinks } from '../lib/runtime/file-sink.js';
import { readSourceBatches } from '../lib/runtime/sources.js';
import { Task } from '../lib/runtime/task.js';
import { CachingStoreFactory } from '../lib/state/caching.js';
import { LmdbStoreFactory } from '../lib/state/engines/lmdb/env.js';
import { systemClock } from '../lib/time/clock.js';
import { defaultRegistry } from '../operators/index.js';

const CHECKPOINT_EVERY = 10_000;
const BATCH = 512;
const PIPELINE = fileURLToPath(new URL('../../examples/cart-abandonment/pipeline.yaml', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** What one run prints (its last line). */
interface RunResult {
  way: 'one thread' | 'two threads';
  seconds: number;
  /** User + system µs of the whole process. */
  cpu: number;
  /** µs of the main thread, and of the worker (two threads), or undefined off Linux. */
  mainCpu?: number;
  workerCpu?: number;
}

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

/** CPU µs of the calling thread so far (Linux), or undefined. */
function threadCpu(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

function topology(): Topology {
  return compilePipeline(parsePipeline(readFileSync(PIPELINE, 'utf8'), PIPELINE, defaultRegistry), defaultRegistry);
}

/** Steps `from`..`to` of the pipeline as a topology of their own (as a Kafka sub-topology is). */
const stepsOf = (t: Topology, from: number, to?: number): Topology => ({ ...t, steps: t.steps.slice(from, to) });

/** A Task over fresh LMDB state in `stateDir`, writing its streams to `outDir`. */
function openTask(t: Topology, stateDir: string, outDir: string, streams: string[], forward?: (event: TributaryEvent) => void) {
  rmSync(stateDir, { recursive: true, force: true });
  const stores = new CachingStoreFactory(new LmdbStoreFactory({ path: stateDir }));
  const sinks = new FileSinks(outDir, streams);
  const task = new Task({
    topology: t, stores, clock: systemClock, metrics: createMetrics(new Registry()), sourceName: 'input',
    eventsAreSink: forward === undefined,
    output: (stream, record) => (stream === 'events' && forward ? forward(record as TributaryEvent) : sinks.write(stream, record)),
  });
  const checkpoint = async () => {
    await sinks.flush();
    await task.checkpoint();
  };
  const close = async () => {
    await checkpoint();
    await stores.close();
    sinks.close();
  };
  return { task, checkpoint, close };
}

/** The streams steps `from`..`to` write (the source's own streams go with the first part). */
function streamsOf(t: Topology, from: number, to?: number): string[] {
  const own = t.steps.slice(from, to).flatMap((s) => s.outputs.map((o) => o.stream));
  return from === 0 ? ['dead-letter', 'late', 'forgotten', ...own] : ['events', ...own];
}

type Message = Array<string | number> | 'checkpoint' | 'end';

/** The worker: the later steps, fed events (JSON text) and watermarks (numbers) in order. */
function worker(data: { split: number; outDir: string; stateDir: string }): void {
  const t = topology();
  const b = openTask(stepsOf(t, data.split), data.stateDir, data.outDir, streamsOf(t, data.split));
  let queue = Promise.resolve();
  parentPort!.on('message', (m: Message) => {
    queue = queue.then(async () => {
      if (m === 'checkpoint') return b.checkpoint();
      if (m === 'end') {
        b.task.endOfInput();
        await b.close();
        parentPort!.postMessage({ cpu: threadCpu() });
        return;
      }
      for (const x of m) {
        // The watermark first, without firing: the event is processed under it, then what is due fires.
        if (typeof x === 'number') b.task.watermarks.advanceTo(x);
        else b.task.pipeForwarded(JSON.parse(x) as TributaryEvent);
      }
    });
  });
}

async function twoThreads(input: string, outDir: string, stateDir: string, split: number): Promise<Omit<RunResult, 'way' | 'seconds' | 'cpu'>> {
  const t = topology();
  const w = new Worker(SELF, { workerData: { split, outDir, stateDir: join(stateDir, 'b') } });
  const finished = new Promise<{ cpu?: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  let batch: Array<string | number> = [];
  let sentWatermark = -Infinity;
  const send = () => {
    if (batch.length > 0) w.postMessage(batch);
    batch = [];
  };
  const a = openTask(stepsOf(t, 0, split), join(stateDir, 'a'), outDir, streamsOf(t, 0, split), (event) => {
    const wm = a.task.watermarks.current();
    if (wm !== sentWatermark) batch.push((sentWatermark = wm));
    batch.push(JSON.stringify(event));
    if (batch.length >= BATCH) send();
  });
  let n = 0;
  for await (const records of readSourceBatches(input, 'json')) {
    for (const r of records) {
      a.task.ingest(r);
      if (++n % CHECKPOINT_EVERY === 0) {
        send();
        w.postMessage('checkpoint');
        await a.checkpoint();
      }
    }
  }
  a.task.endOfInput();
  send();
  w.postMessage('end');
  await a.close();
  const mainCpu = threadCpu();
  const { cpu: workerCpu } = await finished;
  await w.terminate();
  return { mainCpu, workerCpu };
}

/** One run in this process (`--child <way>`): prints its RunResult. */
async function child(way: RunResult['way'], input: string, outDir: string, split: number): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'tributary-two-threads-state-'));
  mkdirSync(outDir, { recursive: true });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let threads: Omit<RunResult, 'way' | 'seconds' | 'cpu'>;
  if (way === 'one thread') {
    await runEmbedded({ topology: topology(), input, outDir, stateDir, final: true });
    threads = { mainCpu: threadCpu() };
  } else threads = await twoThreads(input, outDir, stateDir, split);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  rmSync(stateDir, { recursive: true, force: true });
  const result: RunResult = { way, seconds, cpu: cpu.user + cpu.system, ...threads };
  console.log(JSON.stringify(result));
}

/** The files of `dir` that differ from `reference`'s (or are missing in either). */
function differences(dir: string, reference: string): string[] {
  const names = [...new Set([...readdirSync(dir), ...readdirSync(reference)])].filter((f) => f.endsWith('.ndjson'));
  return names.filter((f) => {
    try {
      return !readFileSync(join(dir, f)).equals(readFileSync(join(reference, f)));
    } catch {
      return true;
    }
  });
}

async function main(): Promise<void> {
  const events = Number(option('events') ?? 200_000);
  const seed = Number(option('seed') ?? 1);
  const repeat = Number(option('repeat') ?? 3);
  const split = Number(option('split') ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-two-threads-'));
  try {
    const input = join(dir, 'events.ndjson');
    const cli = fileURLToPath(new URL('../bin/tributary.js', import.meta.url));
    execFileSync(process.execPath, [cli, 'generate', '--events', String(events), '--seed', String(seed), '--out', input], { stdio: 'ignore' });
    const runs: RunResult[] = [];
    for (let r = 0; r < repeat; r++) {
      for (const way of ['one thread', 'two threads'] as const) {
        const outDir = join(dir, way === 'one thread' ? 'one' : 'two');
        rmSync(outDir, { recursive: true, force: true });
        const stdout = execFileSync(process.execPath, [SELF, '--child', way, '--input', input, '--out', outDir, '--split', String(split)], { encoding: 'utf8' });
        runs.push(JSON.parse(stdout.trim().split('\n').at(-1) as string) as RunResult);
      }
      const diff = differences(join(dir, 'two'), join(dir, 'one'));
      if (diff.length > 0) throw new Error(`round ${r + 1}: the two-thread run wrote other records in ${diff.join(', ')}`);
    }
    const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] as number;
    const t = topology();
    console.log(`\n${events} generated events (seed ${seed}), ${repeat} interleaved runs per way; two threads: steps ${t.steps.slice(0, split).map((s) => s.name).join(', ')} | ${t.steps.slice(split).map((s) => s.name).join(', ')}\n`);
    console.log('| way | events/s (median, min–max) | CPU µs/ev (process) | main thread µs/ev | worker µs/ev |');
    console.log('|---|---:|---:|---:|---:|');
    for (const way of ['one thread', 'two threads'] as const) {
      const mine = runs.filter((x) => x.way === way);
      const rates = mine.map((x) => events / x.seconds);
      const per = (f: (x: RunResult) => number | undefined) => {
        const xs = mine.map(f).filter((v): v is number => v !== undefined);
        return xs.length ? (median(xs) / events).toFixed(1) : 'n/a';
      };
      const rate = (v: number) => Math.round(v).toLocaleString('en-US');
      console.log(`| ${way} | ${rate(median(rates))} (${rate(Math.min(...rates))}–${rate(Math.max(...rates))}) | ${per((x) => x.cpu)} | ${per((x) => x.mainCpu)} | ${way === 'one thread' ? '' : per((x) => x.workerCpu)} |`);
    }
    console.log(`\nevery output file of every two-thread run equal to the one-thread run's, byte for byte\ncommand: node dist/benchmarks/two-threads.bench.js ${args.join(' ')}\nnode ${process.version} (${process.platform} ${process.arch})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!isMainThread) worker(workerData as { split: number; outDir: string; stateDir: string });
else if (option('child')) await child(option('child') as RunResult['way'], option('input') as string, option('out') as string, Number(option('split') ?? 3));
else await main();
