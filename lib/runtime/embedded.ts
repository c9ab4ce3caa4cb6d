/**
 * The embedded runtime: a file (or stdin) in, `<out-dir>/<stream>.ndjson` out,
 * LMDB state in a local directory, no broker.
 *
 * Checkpoints every `checkpointEvery` records: outputs fsynced, then the state stores and a
 * checkpoint record (input position, output byte lengths, watermark) committed in one LMDB
 * transaction. A run that stops (crash, kill -9, Ctrl-C) resumes from its last checkpoint
 * when started again with the same input and state directory: outputs are cut back to the
 * checkpoint and the records after it replayed, so the outputs equal an uninterrupted run.
 * "The same input": the same path, size and first/last 64 KiB (`input-identity.ts`); the file
 * changed in place since is refused, and `restart` starts over.
 *
 * End of input: a final run moves the watermark to +∞ (every timer fires, every session and
 * window closes, dedupe forgets every key). A run that is not final (the default with an explicit
 * state directory) checkpoints its state, real watermark and open timers instead, and the next
 * run over another input with the same state directory continues from them, as one run over
 * both inputs would (see `continuation.ts`).
 */
import { rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createMetrics, counterValues, type PipelineMetrics } from '../metrics/metrics.js';
import type { Topology } from '../pipeline/compile.js';
import { CachingStoreFactory, DEFAULT_CACHE_BYTES } from '../state/caching.js';
import { stateCorruption } from '../state/engines/lmdb/corruption.js';
import { deleteLmdbEnvironment, LmdbStoreFactory } from '../state/engines/lmdb/env.js';
import type { KeyValueStore } from '../state/store.js';
import { systemClock, type Clock } from '../time/clock.js';
import { isFinal, startOf, type Checkpoint } from './continuation.js';
import { FileSinks } from './file-sink.js';
import { inputIdentity } from './input-identity.js';
import { readSourceBatches, type InputFormat } from './sources.js';
import { createOpsServer, Liveness } from './ops-server.js';
import { holdState } from './state-holder.js';
import { Task } from './task.js';

export interface EmbeddedRunOptions {
  topology: Topology;
  /** Input file path, or `-` for stdin. */
  input: string;
  /** `json` (NDJSON), `csv` or `avro` (container file). Default: from the file extension, else the source format. */
  format?: InputFormat;
  outDir: string;
  /**
   * LMDB state directory. Default `<out-dir>/.state`, started fresh unless it holds an
   * unfinished run over the same input. An explicit directory keeps its state across runs
   * (like a Kafka Streams application's state), and resumes an unfinished run; a different
   * input continues from the state the last run left open (see {@link final}).
   */
  stateDir?: string;
  /**
   * Whether the end of input closes everything: the watermark goes to +∞, every timer fires,
   * every session and window closes, dedupe forgets its keys. Default: true with the default
   * (private) state directory, false with an explicit `stateDir`, whose state, watermark and
   * open timers are then kept for the next run (another input, or an empty one with
   * `final: true` to close what is open).
   */
  final?: boolean;
  /**
   * Start over: delete the state directory's state (an interrupted run's checkpoint, or what a
   * previous run left open) and write the outputs from empty. Default false.
   */
  restart?: boolean;
  /** Records between checkpoints. Default 10 000. */
  checkpointEvery?: number;
  /**
   * Estimated bytes of decoded state kept in memory (the caching layer's budget). Stores that fit
   * are resident (no LMDB read on a miss); larger ones read through. Default 256 MiB.
   */
  cacheBytes?: number;
  clock?: Clock;
  registry?: Registry;
  /** Called about every `progressEveryMs` (default 2 s) during long runs. */
  onProgress?: (p: { records: number; elapsedMs: number; eventsPerSecond: number }) => void;
  progressEveryMs?: number;
  /**
   * Serve `GET /state/<step>/<key>` (the current values of steps that can be queried, e.g.
   * windowAggregate) on this port while the run lasts; 0 picks a free port.
   */
  statePort?: number;
  /** Called with the state endpoint's port once it listens. */
  onStateServer?: (port: number) => void;
  /**
   * Serve `/metrics`, `/healthz`, `/readyz` and `/state/<step>/<key>` on this port while the run
   * lasts (0 picks a free port). `statePort`, when also given, serves the same.
   */
  metricsPort?: number;
  /** The address the operations server binds. Default `127.0.0.1`. */
  metricsHost?: string;
  /** Called with the operations server's port once it listens. */
  onMetricsServer?: (port: number) => void;
  /** `/healthz` fails when the run has made no progress for this long. Default 60 s. */
  stallMs?: number;
  /** Aborting stops reading, checkpoints and returns (`interrupted: true`); the run can be resumed. */
  signal?: AbortSignal;
}

/** What a run did (also printed by `tributary run`). */
export interface RunSummary {
  pipeline: string;
  input: string;
  outDir: string;
  stateDir: string;
  /** Input records read in this process (skipped ones on resume excluded). */
  records: number;
  /** Records skipped because a previous run had already processed them. */
  resumedFrom: number;
  steps: Array<{ step: string; in: number; out: Record<string, number>; dropped: Record<string, number>; counted: Record<string, number> }>;
  /** Records written per stream in this process. */
  streams: Record<string, number>;
  deadLetters: Record<string, number>;
  late: number;
  durationMs: number;
  eventsPerSecond: number;
  interrupted: boolean;
  /** Whether the end of input closed everything (watermark +∞); false: the state is left open for the next run. */
  final: boolean;
  /** Whether the run went on from the state a previous run over another input left open. */
  continued: boolean;
}

/**
 * Runs a compiled pipeline over a bounded input.
 *
 * @example
 * ```ts
 * const summary = await runEmbedded({ topology, input: 'events.ndjson', outDir: 'out' });
 * console.log(summary.streams); // { events: 16880, 'dead-letter': 2, late: 0, duplicates: 552 }
 * ```
 */
export async function runEmbedded(options: EmbeddedRunOptions): Promise<RunSummary> {
  try {
    return await run(options);
  } catch (error) {
    // LMDB reporting a damaged file (at open, or at a read mid-run): the same one line as the probe's.
    throw stateCorruption(error, join(resolve(options.stateDir ?? join(options.outDir, '.state')), 'data.mdb')) ?? error;
  }
}

async function run(options: EmbeddedRunOptions): Promise<RunSummary> {
  const started = performance.now();
  const { topology } = options;
  const clock = options.clock ?? systemClock;
  const outDir = resolve(options.outDir);
  const defaultState = options.stateDir === undefined;
  const stateDir = resolve(options.stateDir ?? join(outDir, '.state'));
  const identity = inputIdentity(options.input);
  const clash = outputAsInput(options.input, outDir, topology.streams.map((s) => s.name));
  if (clash) throw new Error(clash);

  if (options.restart) deleteLmdbEnvironment(stateDir);
  let stores = new LmdbStoreFactory({ path: stateDir });
  let meta = stores.open<string, Checkpoint>('_meta');
  const start = startOf(meta.get('checkpoint'), identity, defaultState);
  const final = isFinal(options.final, defaultState);
  if (start.kind === 'refuse') {
    await stores.close();
    throw new Error(start.message);
  }
  if (start.kind === 'wipe') {
    // A finished (or different) run's private state: start clean.
    await stores.close();
    rmSync(stateDir, { recursive: true, force: true });
    stores = new LmdbStoreFactory({ path: stateDir });
    meta = stores.open<string, Checkpoint>('_meta');
  }

  const registry = options.registry ?? new Registry();
  const metrics: PipelineMetrics = createMetrics(registry);
  const cached = new CachingStoreFactory(stores, { maxBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES });
  // A file never goes quiet (only a live input, stdin or a pipe, does): idle detection there
  // would move the watermark by how long a record took to read (a 400 MB line, a resume skipping
  // to its checkpoint), and the outputs would depend on the machine's speed.
  const live = identity === null;
  const task = new Task({
    topology: live ? topology : { ...topology, source: { ...topology.source, idleTimeoutMs: Infinity } },
    stores: cached, clock, metrics, output: (stream, record) => sinks.write(stream, record), sourceName: options.input === '-' ? 'stdin' : basename(options.input),
  });
  const skip = start.kind === 'resume' ? start.skip : 0;
  if (start.kind === 'resume' || start.kind === 'continue') task.restore(start.watermark);
  // The outputs are opened (cut back to the checkpoint, or emptied) once the state was read, so a
  // damaged state is reported before any output changes. A continued run writes its own outputs
  // from empty: over an earlier run's they would be lost (a stdin run killed and run again cannot
  // resume, it continues, and emptied them).
  const kept = start.kind === 'continue' ? topology.streams.map((s) => join(outDir, `${s.name}.ndjson`)).find((f) => (statSync(f, { throwIfNoEntry: false })?.size ?? 0) > 0) : undefined;
  if (kept !== undefined) {
    await cached.close();
    throw new Error(`${outDir} holds outputs of an earlier run (${basename(kept)}) and this run continues the state of ${stateDir} from where a run left it, writing its own outputs from empty: choose another --out-dir, or --restart to start over`);
  }
  const sinks = new FileSinks(outDir, topology.streams.map((s) => s.name), start.kind === 'resume' ? start.outputs : {});

  const every = options.checkpointEvery ?? 10_000;
  let position = 0;
  let processed = 0;
  let interrupted = false;
  let streamCounts: Record<string, number>;
  const alive = new Liveness(options.stallMs);
  let checkpointing = false;
  const checkpoint = async (done: boolean, store: KeyValueStore<string, Checkpoint>) => {
    const t0 = performance.now();
    checkpointing = true;
    await sinks.flush();
    store.put('checkpoint', { input: identity, position, outputs: sinks.sizes(), watermark: task.snapshot(), done, final: done && final });
    await task.checkpoint();
    checkpointing = false;
    alive.beat();
    metrics.commits.inc({ pipeline: topology.name });
    metrics.commitLatency.observe({ pipeline: topology.name }, (performance.now() - t0) / 1000);
  };

  const progressEvery = options.progressEveryMs ?? 2000;
  let nextProgress = performance.now() + progressEvery;
  const format = options.format ?? formatOf(options.input, topology.source.format);
  // A live input (stdin) can go quiet: re-evaluate the watermark with processing time so idle
  // sessions and absence timers still close between records.
  const idleTick = setInterval(() => {
    // Not during a checkpoint: what fired then would be in the state it flushes but not in the outputs it covers.
    // (A checkpoint that hangs, on a stalled disk, is not progress; waiting for input on a quiet stdin is.)
    if (checkpointing || !live) return;
    task.advance();
    alive.beat();
  }, 1000);
  idleTick.unref();
  let running = true;
  const serving = options.metricsPort !== undefined || options.statePort !== undefined;
  const ops = serving ? createOpsServer({
    registry,
    read: (step, key) => task.query(step, key),
    health: () => alive.probe(),
    ready: () => (running ? { ok: true, detail: `running: ${processed} records processed` } : { ok: false, detail: 'the run has ended' }),
    onScrape: () => metrics.ready.set({ pipeline: topology.name }, running ? 1 : 0),
  }) : undefined;
  const release = holdState(stateDir);
  try {
    if (ops && options.metricsPort !== undefined) options.onMetricsServer?.(await ops.listen(options.metricsPort, options.metricsHost));
    if (ops && options.statePort !== undefined && options.statePort !== options.metricsPort) options.onStateServer?.(await ops.listen(options.statePort, options.metricsHost));
    // With a server up, the loop lets requests in at least every 10 ms (a batch can take longer).
    let yieldAt = performance.now() + 10;
    // A batch (one 1 MiB read of NDJSON) is processed synchronously: no promise per record.
    const batches = readSourceBatches(options.input, format, { maxRecordBytes: topology.source.maxRecordBytes, maxRecordLines: topology.source.maxRecordLines, ...(options.signal ? { signal: options.signal } : {}) });
    try {
      reading: for await (const batch of batches) {
        alive.beat();
        for (let i = 0; i < batch.length; i++) {
          position++;
          if (position <= skip) continue;
          if (options.signal?.aborted) {
            position--;
            interrupted = true;
            break reading;
          }
          task.ingest(batch[i]!);
          processed++;
          if (ops && (processed & 63) === 0 && performance.now() >= yieldAt) {
            await yieldToLoop();
            yieldAt = performance.now() + 10;
          }
          if (processed % every === 0) {
            await checkpoint(false, meta);
            const now = performance.now();
            if (options.onProgress && now >= nextProgress) {
              nextProgress = now + progressEvery;
              const elapsed = now - started;
              options.onProgress({ records: processed, elapsedMs: elapsed, eventsPerSecond: processed / (elapsed / 1000) });
            }
          }
        }
      }
    } catch (error) {
      // Stopped while waiting for input (the read was destroyed): every record read is processed.
      if (!options.signal?.aborted) throw error;
      interrupted = true;
    }
    if (!interrupted && final) task.endOfInput();
    await checkpoint(!interrupted, meta);
  } finally {
    running = false;
    clearInterval(idleTick);
    alive.stop();
    await ops?.close();
    streamCounts = sinks.counts();
    sinks.close();
    await cached.close();
    release();
  }

  const durationMs = performance.now() - started;
  return {
    ...(await summarise(metrics, topology)),
    pipeline: topology.name,
    input: options.input,
    outDir,
    stateDir,
    records: processed,
    resumedFrom: skip,
    streams: streamCounts,
    durationMs,
    eventsPerSecond: processed / Math.max(durationMs / 1000, 1e-9),
    interrupted,
    final: !interrupted && final,
    continued: start.kind === 'continue',
  };
}

/**
 * Why `input` cannot be read by a run writing `streams` to `outDir` (it is one of those files,
 * by name or link): the run would truncate it before reading it. Undefined when it can.
 */
export function outputAsInput(input: string, outDir: string, streams: readonly string[]): string | undefined {
  if (input === '-') return undefined;
  const stat = (path: string) => {
    try {
      return statSync(path);
    } catch {
      return undefined; // absent, or not reachable: the run's own checks say why
    }
  };
  const inputStat = stat(input);
  for (const stream of streams) {
    const out = join(outDir, `${stream}.ndjson`);
    const outStat = stat(out);
    const same = resolve(input) === out || (inputStat !== undefined && outStat !== undefined && inputStat.ino === outStat.ino && inputStat.dev === outStat.dev);
    if (same) return `--input ${input} is the run's output of stream ${stream} (${out}): it would be emptied before it is read; copy it elsewhere first, or write to another --out-dir`;
  }
  return undefined;
}

/** Input format from the file name, else the source's. */
export function formatOf(input: string, fallback: InputFormat): InputFormat {
  if (/\.csv$/i.test(input)) return 'csv';
  if (/\.avro$/i.test(input)) return 'avro';
  if (/\.(nd)?jsonl?$/i.test(input)) return 'json';
  return fallback;
}

async function summarise(metrics: PipelineMetrics, topology: Topology) {
  const ins = await counterValues(metrics.recordsIn);
  const outs = await counterValues(metrics.recordsOut);
  const drops = await counterValues(metrics.recordsDropped);
  const outcomes = await counterValues(metrics.stepOutcomes);
  const steps = topology.steps.map((s) => {
    const out: Record<string, number> = {};
    const dropped: Record<string, number> = {};
    const counted: Record<string, number> = {};
    for (const o of outcomes) if (o.labels.step === s.name) counted[String(o.labels.outcome)] = o.value;
    for (const o of outs) if (o.labels.step === s.name) out[String(o.labels.stream)] = o.value;
    for (const d of drops) if (d.labels.step === s.name) dropped[String(d.labels.reason)] = d.value;
    return { step: s.name, in: ins.find((i) => i.labels.step === s.name)?.value ?? 0, out, dropped, counted };
  });
  const deadLetters: Record<string, number> = {};
  for (const d of await counterValues(metrics.deadLetters)) deadLetters[String(d.labels.reason)] = d.value;
  const late = (await counterValues(metrics.lateRecords)).reduce((a, v) => a + v.value, 0);
  return { steps, deadLetters, late };
}

/** The summary as the CLI prints it. */
export function formatSummary(s: RunSummary): string {
  const lines: string[] = [];
  lines.push(`${s.interrupted ? 'interrupted' : 'done'}: pipeline ${s.pipeline}, ${s.records} records from ${s.input}${s.resumedFrom ? ` (resumed after record ${s.resumedFrom})` : ''} in ${(s.durationMs / 1000).toFixed(2)}s (${Math.round(s.eventsPerSecond)} events/s)`);
  for (const st of s.steps) {
    const out = Object.entries(st.out).map(([k, v]) => `${k} ${v}`);
    const dropped = Object.entries(st.dropped).map(([k, v]) => `${k} ${v}`);
    const counted = Object.entries(st.counted).map(([k, v]) => `${k} ${v}`);
    const passed = st.in - Object.values(st.dropped).reduce((a, b) => a + b, 0);
    lines.push(`  step ${st.step}: in ${st.in}, passed ${passed}${dropped.length ? `, dropped ${dropped.join(', ')}` : ''}${out.length ? `, emitted ${out.join(', ')}` : ''}${counted.length ? `, counted ${counted.join(', ')}` : ''}`);
  }
  const dl = Object.entries(s.deadLetters).map(([k, v]) => `${k} ${v}`);
  lines.push(`  dead letters: ${dl.length ? dl.join(', ') : 0}; late: ${s.late}`);
  if (s.continued) lines.push(`  continued from the state a previous run left open in ${s.stateDir}`);
  if (!s.interrupted && !s.final) lines.push(`  state left open in ${s.stateDir} (not final): the next run with this state directory goes on from it; --final closes it`);
  lines.push(`  outputs in ${s.outDir}:`);
  for (const [stream, n] of Object.entries(s.streams)) lines.push(`    ${stream}.ndjson  ${n} records`);
  return lines.join('\n');
}
