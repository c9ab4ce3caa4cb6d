/**
 * Soaks: memory of a long run, sampled every few seconds by the memory probe.
 * - embedded: `tributary generate --events N | tributary run <dedupe> --input -` (input streamed
 *   through a pipe, never held in memory); the run's RSS and heap over the run.
 * - kafka: the cart-abandonment pipeline run unbounded by the CLI under continuous produce
 *   load for a duration; its memory, whether it kept up (lag at the end) and whether it stayed up.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoad } from './load.js';
import { summarise, readSamples, type MemorySummary } from './memory.js';
import { adapterFor, chaosSuffix, createSourceTopic, deleteTopicsLike, lag, pipelineCopy } from './pipeline.js';
import { BIN, ROOT, startRunner } from './runner.js';

export interface EmbeddedSoakReport {
  events: number;
  seconds: number;
  exit: number | null;
  summary: string;
  memory: MemorySummary;
  memoryLog: string;
}

export async function embeddedSoak(dir: string, events: number, log: (l: string) => void): Promise<EmbeddedSoakReport> {
  const p = pipelineCopy('examples/rees46-dedupe/pipeline.yaml', dir, chaosSuffix(), (def) => {
    def.source.format = 'json';
    def.source.key = ['anonymousId', 'userId'];
    def.source.timestamp = 'timestamp';
    delete def.source.mapping;
  });
  const memoryLog = join(dir, 'embedded-soak.memory.ndjson');
  const out = join(dir, 'embedded-soak-out');
  mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  const gen = spawn(process.execPath, [BIN, 'generate', '--events', String(events), '--seed', '11'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const run = spawn(process.execPath, ['--import', join(ROOT, 'dist/benchmarks/chaos/memory-probe.js'), BIN, 'run', p.file, '--input', '-', '--out-dir', out, '--format', 'json'], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CHAOS_MEMORY_LOG: memoryLog, CHAOS_MEMORY_EVERY_MS: '5000' },
  });
  gen.stdout.pipe(run.stdin);
  let stdout = '';
  run.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  const errLog = createWriteStream(join(dir, 'embedded-soak.stderr.log'));
  run.stderr.pipe(errLog);
  const timer = setInterval(() => {
    const last = readSamples(memoryLog).at(-1);
    if (last) log(`embedded soak: ${last.s} s, rss ${(last.rss / 2 ** 20).toFixed(0)} MB, heap ${(last.heapUsed / 2 ** 20).toFixed(0)} MB`);
  }, 60_000);
  const exit = await new Promise<number | null>((ok) => run.once('exit', ok));
  clearInterval(timer);
  return {
    events, seconds: (performance.now() - t0) / 1000, exit, summary: stdout.trim().split('\n').slice(-3).join(' | '),
    memory: summarise(readSamples(memoryLog)), memoryLog,
  };
}

export interface KafkaSoakReport {
  seconds: number;
  produced: number;
  rate: number;
  /** Source records not committed when the load stopped, and 60 s later. */
  lagAtStop: number;
  lagAfter: number;
  runnerExit: string;
  /** Source lag sampled every minute: whether the runner kept up. */
  lagSamples: number[];
  memory: MemorySummary;
  memoryLog: string;
  resent: number;
}

export async function kafkaSoak(dir: string, brokers: string[], seconds: number, rate: number, log: (l: string) => void): Promise<KafkaSoakReport> {
  const p = pipelineCopy('examples/cart-abandonment/pipeline.yaml', dir, chaosSuffix());
  const adapter = adapterFor(brokers);
  await createSourceTopic(adapter, p.source, 3);
  const memoryLog = join(dir, 'kafka-soak.memory.ndjson');
  try {
    const runner = startRunner({ pipeline: p.file, brokers: brokers.join(','), stateDir: join(dir, 'soak-state'), memoryLog, extra: ['--quiet'], sessionTimeoutMs: null });
    const load = startLoad({
      brokers, topic: p.source, partitions: 3, key: p.topology.source.key ?? ['anonymousId', 'userId'], rate, seed: 21,
      maxEvents: Math.ceil(rate * seconds), record: join(dir, 'kafka-soak.events.ndjson'), log,
    });
    const t0 = performance.now();
    const lagSamples: number[] = [];
    let alive = true;
    void runner.exited.then(() => (alive = false));
    while (alive && performance.now() - t0 < seconds * 1000) {
      await sleep(Math.min(60_000, Math.max(1000, seconds * 1000 - (performance.now() - t0))));
      const last = readSamples(memoryLog).at(-1);
      const l = await lag(adapter, p.topology.name, p.source).catch(() => -1);
      lagSamples.push(l);
      log(`kafka soak: ${Math.round((performance.now() - t0) / 1000)} s, produced ${load.produced()}, lag ${l}, rss ${((last?.rss ?? 0) / 2 ** 20).toFixed(0)} MB, heap ${((last?.heapUsed ?? 0) / 2 ** 20).toFixed(0)} MB`);
    }
    const report = await load.stop();
    const lagAtStop = await lag(adapter, p.topology.name, p.source);
    await sleep(60_000);
    const lagAfter = await lag(adapter, p.topology.name, p.source);
    const exit = alive ? 'running at the end (stopped with SIGTERM)' : `exited on its own: ${JSON.stringify(await runner.exited)}; ${runner.stderr().slice(-500)}`;
    const stopped = await runner.kill('SIGTERM');
    log(`kafka soak: runner stopped ${JSON.stringify(stopped)}`);
    return {
      seconds: report.seconds, produced: report.produced, rate, lagAtStop, lagAfter, runnerExit: exit, lagSamples,
      memory: summarise(readSamples(memoryLog)), memoryLog, resent: report.resent,
    };
  } finally {
    await deleteTopicsLike(adapter, p.suffix);
  }
}
