/**
 * Operators alone in a `Task` (lib/runtime/task.ts), no file I/O: the `task` and `heap` cases
 * of the embedded benchmark, run in its child process:
 *
 *   node --expose-gc dist/benchmarks/embedded.bench.js --cases "operator alone,heap"
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { TributaryEvent } from '../../lib/event/event.js';
import { createMetrics } from '../../lib/metrics/metrics.js';
import { compilePipeline, type Topology } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { Task } from '../../lib/runtime/task.js';
import { CachingStoreFactory } from '../../lib/state/caching.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { MemoryStoreFactory } from '../../lib/state/engines/memory.js';
import type { StoreFactory } from '../../lib/state/store.js';
import { systemClock } from '../../lib/time/clock.js';
import { defaultRegistry } from '../../operators/index.js';

const CHECKPOINT_EVERY = 10_000;

/** What a timed run measured. */
export interface Measured {
  events: number;
  seconds: number;
  /** User + system CPU of the process during the run, µs. */
  cpu: number;
  counts?: Record<string, number>;
  bytesPerKey?: number;
  residentKeys?: number;
}

function topologyOf(yaml: string) {
  return compilePipeline(parsePipeline(yaml, '<bench>', defaultRegistry), defaultRegistry);
}

function newTask(topology: Topology, stores: StoreFactory, output: (stream: string) => void): Task {
  return new Task({ topology, stores, clock: systemClock, metrics: createMetrics(new Registry()), output });
}

/**
 * `events` with a `forget` request for the person (userId, else anonymousId) of every `every`-th
 * event inserted after it (none without `every`): the cost of erasure requests in a stream.
 */
export function withForgets(events: TributaryEvent[], every: number | undefined): TributaryEvent[] {
  if (!every) return events;
  const out: TributaryEvent[] = [];
  events.forEach((e, i) => {
    out.push(e);
    if ((i + 1) % every === 0) out.push({ messageId: `forget-${i}`, type: 'forget', userId: e.userId, anonymousId: e.userId ? null : e.anonymousId, timestamp: e.timestamp });
  });
  return out;
}

/**
 * Times, over events already in memory: constructing a Task with an LmdbStoreFactory in a temp
 * dir, `task.pipe` per event, a checkpoint every 10k events, `endOfInput()` and a last
 * checkpoint. Outputs are counted by stream, nothing else. The definition is compiled before
 * (as the embedded cases compile theirs before `runEmbedded`): compiling its validators took
 * ~60 ms, a fifth of dedupe's 200k events.
 */
export async function runTaskAlone(yaml: string, events: readonly TributaryEvent[]): Promise<Measured> {
  const topology = topologyOf(yaml);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-task-'));
  const counts: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // Assembled as the runners assemble a task's stores: the caching layer over LMDB.
  const stores = new CachingStoreFactory(new LmdbStoreFactory({ path: dir }));
  const task = newTask(topology, stores, (stream) => void (counts[stream] = (counts[stream] ?? 0) + 1));
  for (let i = 0; i < events.length; i++) {
    task.pipe(events[i] as TributaryEvent);
    if ((i + 1) % CHECKPOINT_EVERY === 0) await task.checkpoint();
  }
  task.endOfInput();
  await task.checkpoint();
  await stores.close();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  rmSync(dir, { recursive: true, force: true });
  return { events: events.length, seconds, cpu: cpu.user + cpu.system, counts };
}

/**
 * An event with a unique messageId (shaped like the generator's, `g-<seed>-<n>`: short, so V8
 * keeps it a flat string as JSON.parse would; a 36-character UUID key costs more per key), one
 * second after the previous one.
 */
const uniqueEvent = (i: number): TributaryEvent => ({
  messageId: `g-0-${i}`,
  type: 'track',
  event: 'page_viewed',
  userId: null,
  anonymousId: `anon-${i % 10_000}`,
  timestamp: 1_767_225_600_000 + i * 1000,
});

const pipelineWithLongTtl = 'name: bench-heap\nsource: { key: [anonymousId, userId], allowedLateness: 1m }\nsteps:\n  - dedupe: { ttl: 3650d }\n';

declare const gc: (() => void) | undefined;
function heapAfterGc(): number {
  if (typeof gc !== 'function') throw new Error('the heap case needs node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * JS heap per resident dedupe key: `keys` events with unique messageIds through dedupe (ttl
 * 10 years, so nothing expires and no endOfInput), checkpoint every 10k; heap used after a full
 * GC, after minus before, divided by the keys. `map`: the same keys in a plain Map.
 */
export async function heapPerKey(state: 'lmdb' | 'memory' | 'map', keys: number): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-bench-heap-'));
  let stores: StoreFactory | undefined;
  let task: Task | undefined;
  let map: Map<string, number> | undefined;
  if (state === 'map') map = new Map();
  else {
    stores = state === 'lmdb' ? new CachingStoreFactory(new LmdbStoreFactory({ path: dir })) : new MemoryStoreFactory();
    task = newTask(topologyOf(pipelineWithLongTtl), stores, () => {});
  }
  const before = heapAfterGc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < keys; i++) {
    const e = uniqueEvent(i);
    if (map) map.set(e.messageId, e.timestamp);
    else {
      task?.pipe(e);
      if ((i + 1) % CHECKPOINT_EVERY === 0) await task?.checkpoint();
    }
  }
  await task?.checkpoint();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const after = heapAfterGc();
  // Every key is unique and nothing expires (ttl 10 years): all are resident.
  const resident = map ? map.size : keys;
  await stores?.close();
  rmSync(dir, { recursive: true, force: true });
  return { events: keys, seconds, cpu: cpu.user + cpu.system, bytesPerKey: (after - before) / Math.max(resident, 1), residentKeys: resident };
}
