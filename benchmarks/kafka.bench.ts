/**
 * The Kafka runtime against a real broker: end-to-end throughput, produce → output
 * latency, and restore time of a store from its changelog.
 *
 *   npm run -s kafka:start          # or any broker: KAFKA_BROKERS=host:port
 *   npm run build && KAFKA_BROKERS=127.0.0.1:9092 node dist/benchmarks/kafka.bench.js
 *
 * Sizes come from the environment, so a quick run is possible:
 *   BENCH_EVENTS=100000          events per throughput case (generated, seed BENCH_SEED=1)
 *   BENCH_PARTITIONS=3           source partitions of the throughput and latency cases
 *   BENCH_LATENCY_RATE=2000      events/s produced while the runner runs unbounded …
 *   BENCH_LATENCY_SECONDS=20     … for this long
 *   BENCH_RESTORE_KEYS=200000,1000000   store sizes restored (one source partition, one task)
 *   BENCH_CASES=throughput,latency,restore
 *   BENCH_THROUGHPUT=spec5,dedupe,dedupe-eos    which throughput cases
 *   BENCH_LATENCY=dedupe,dedupe-eos             which latency cases (also: spec5)
 *   BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   node flags of the runner children
 *   BENCH_COMMIT_INTERVAL_MS=1000 the runners' commit interval (default: the runner's)
 *
 * Every runner runs in a child process of its own (`kafka/runner-child.ts`), so its peak RSS is its own; the
 * parent produces the input beforehand (throughput, restore) or concurrently (latency) and
 * consumes the sink topic (latency). Topics and application ids are unique per run.
 * Prints Markdown tables (stdout) and progress (stderr).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import type { TributaryEvent } from '../lib/event/event.js';
import { resolveKey } from '../lib/event/key.js';
import { generateEvents } from '../lib/generate/index.js';
import type { PipelineDefinition } from '../lib/pipeline/definition.js';
import { brokers, createTopic, deleteTopicsLike, fmt, kafka, list, log, mb, num, produceAll, uniqueSuffix } from './kafka/common.js';
import { startRunner } from './kafka/runner.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---- helpers ----------------------------------------------------------------------------

interface BenchPipeline { file: string; name: string; source: string; sink: string }

/** Copies an example pipeline with a unique name and topics (as test/support/kafka-pipeline.ts does). */
function pipelineCopy(path: string, dir: string, edit?: (def: PipelineDefinition) => void): BenchPipeline {
  const def = parse(readFileSync(join(ROOT, path), 'utf8')) as PipelineDefinition;
  const suffix = uniqueSuffix();
  def.name = `${def.name}-${suffix}`;
  def.source.topic = `${def.source.topic ?? 'events'}-${suffix}`;
  if (def.sink?.topic) def.sink.topic = `${def.sink.topic}-${suffix}`;
  for (const target of Object.values(def.outputs ?? {})) if (target.topic) target.topic = `${target.topic}-${suffix}`;
  edit?.(def);
  const file = join(dir, `${def.name}.yaml`);
  writeFileSync(file, stringify(def));
  return { file, name: def.name, source: def.source.topic, sink: def.sink?.topic ?? `${def.name}-events` };
}

/** examples/rees46-dedupe with a JSON source of canonical events (the generator's) instead of its CSV mapping. */
function dedupePipeline(dir: string, eos: boolean): BenchPipeline {
  return pipelineCopy('examples/rees46-dedupe/pipeline.yaml', dir, (def) => {
    def.name = def.name.replace('rees46-dedupe', eos ? 'bench-dedupe-eos' : 'bench-dedupe');
    def.source.format = 'json';
    def.source.key = ['anonymousId', 'userId'];
    def.source.timestamp = 'timestamp';
    delete def.source.mapping;
    if (eos) def.guarantee = 'exactly-once';
  });
}

function spec5Pipeline(dir: string, eos: boolean): BenchPipeline {
  return pipelineCopy('examples/cart-abandonment/pipeline.yaml', dir, (def) => {
    if (eos) def.guarantee = 'exactly-once';
  });
}

function sampleEvents(n: number, seed: number): TributaryEvent[] {
  return [...generateEvents({ events: n, seed })] as TributaryEvent[];
}

// ---- 1. throughput ---------------------------------------------------------------------------

async function throughput(dir: string): Promise<string[]> {
  const n = num('BENCH_EVENTS', 100_000);
  const seed = num('BENCH_SEED', 1);
  const partitions = num('BENCH_PARTITIONS', 3);
  const events = sampleEvents(n, seed);
  const rows: string[] = [];
  const cases: Record<string, () => BenchPipeline> = {
    spec5: () => spec5Pipeline(dir, false),
    'spec5-eos': () => spec5Pipeline(dir, true),
    dedupe: () => dedupePipeline(dir, false),
    'dedupe-eos': () => dedupePipeline(dir, true),
  };
  const label: Record<string, string> = {
    spec5: 'cart-abandonment pipeline, at-least-once',
    'spec5-eos': 'cart-abandonment pipeline, exactly-once',
    dedupe: 'dedupe only (rees46-dedupe, JSON source), at-least-once',
    'dedupe-eos': 'dedupe only (rees46-dedupe, JSON source), exactly-once',
  };
  for (const name of list('BENCH_THROUGHPUT', 'spec5,dedupe,dedupe-eos')) {
    const make = cases[name];
    if (!make) throw new Error(`unknown throughput case ${name}`);
    const p = make();
    await createTopic(p.source, partitions);
    const rate = await produceAll(p.source, events, ['anonymousId', 'userId']);
    log(`${name}: produced ${n} events into ${p.source} (${partitions} partitions) at ${fmt(rate)}/s; running bounded`);
    const r = await startRunner(p.file, join(dir, `state-${name}`), true).done;
    const s = r.summary;
    const eps = s.records / (r.wallMs / 1000);
    const epsReady = s.records / (r.afterReadyMs / 1000);
    log(`${name}: ${s.records} records in ${(r.wallMs / 1000).toFixed(2)} s → ${fmt(eps)} events/s (${fmt(epsReady)}/s after ready at ${(r.readyMs / 1000).toFixed(2)} s), ${s.commits} commits taking ${r.commitSeconds.toFixed(1)} s, peak RSS ${mb(r.peakRss)} MB; streams ${JSON.stringify(s.streams)}; dead letters ${JSON.stringify(s.deadLetters)}; late ${s.late}`);
    rows.push(`| ${label[name]} | ${fmt(s.records)} | ${(r.wallMs / 1000).toFixed(2)} | ${fmt(eps)} | ${fmt(epsReady)} | ${(r.cpuUs / 1e6).toFixed(1)} | ${(r.cpuUs / Math.max(s.records, 1)).toFixed(1)} | ${(r.readyMs / 1000).toFixed(2)} | ${fmt(s.commits)} | ${r.commitSeconds.toFixed(1)} | ${mb(r.peakRss)} |`);
    rmSync(join(dir, `state-${name}`), { recursive: true, force: true });
    await deleteTopicsLike(p.name.split('-').slice(-3).join('-'));
  }
  return [
    `Throughput: ${fmt(n)} generated events (seed ${seed}; 1% duplicates, 5% out of order, 0.2% late) pre-produced into ${partitions} source partitions, then one bounded runKafka in a child process.`,
    'events/s = source records / wall time of runKafka (group join, task opening and the final commit included); "after ready" excludes the start up to onReady.',
    '',
    '| case | source records | seconds | events/s | events/s after ready | CPU s | CPU µs/ev | ready s | commits | s in commits | peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ];
}

// ---- 2. latency ------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

async function latency(dir: string): Promise<string[]> {
  const rate = num('BENCH_LATENCY_RATE', 2000);
  const seconds = num('BENCH_LATENCY_SECONDS', 20);
  const partitions = num('BENCH_PARTITIONS', 3);
  const total = Math.round(rate * seconds);
  const rows: string[] = [];
  for (const name of list('BENCH_LATENCY', 'dedupe,dedupe-eos')) {
    const p = name === 'dedupe' ? dedupePipeline(dir, false) : name === 'dedupe-eos' ? dedupePipeline(dir, true)
      : name === 'spec5' ? spec5Pipeline(dir, false) : undefined;
    if (!p) throw new Error(`unknown latency case ${name}`);
    // No late events (they would be dropped, not delayed); duplicates are dropped by dedupe.
    const events = [...generateEvents({ events: total, seed: 7, lateRate: 0 })] as TributaryEvent[];
    await createTopic(p.source, partitions);
    const runner = startRunner(p.file, join(dir, `state-lat-${name}`), false);
    await runner.ready;
    // The sink consumer, joined before anything is produced.
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    const seen = new Set<string>();
    let duplicatesOut = 0;
    const consumer = kafka().consumer({ groupId: `bench-sink-${uniqueSuffix()}`, maxWaitTimeInMs: 20, readUncommitted: false });
    await consumer.connect();
    const joined = new Promise<void>((ok) => consumer.on(consumer.events.GROUP_JOIN, () => ok()));
    await consumer.subscribe({ topic: p.sink, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const id = (JSON.parse(m.value!.toString()) as TributaryEvent).messageId;
          if (seen.has(id)) {
            duplicatesOut++;
            continue;
          }
          seen.add(id);
          const t = sentAt.get(id);
          if (t !== undefined) latencies.push(now - t);
        }
      },
    });
    await joined;
    log(`${name}: runner ready, sink consumer joined; producing ${total} events at ${rate}/s for ${seconds} s`);
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const t0 = Date.now();
    let sent = 0;
    let sends = 0;
    let maxSendMs = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
      if (due > sent) {
        const slice = events.slice(sent, due);
        const now = Date.now();
        for (const e of slice) if (!sentAt.has(e.messageId)) sentAt.set(e.messageId, now);
        await producer.send({
          topic: p.source, acks: -1,
          messages: slice.map((e) => ({ key: resolveKey(e, ['anonymousId', 'userId']) ?? null, value: JSON.stringify(e) })),
        });
        maxSendMs = Math.max(maxSendMs, Date.now() - now);
        sends++;
        sent = due;
      }
      await sleep(10);
    }
    const produceSeconds = (Date.now() - t0) / 1000;
    await producer.disconnect();
    const unique = sentAt.size;
    // Wait for the tail: until every unique event arrived or nothing arrived for 5 s.
    let last = seen.size;
    let quiet = Date.now();
    while (seen.size < unique && Date.now() - quiet < 5000) {
      await sleep(100);
      if (seen.size !== last) {
        last = seen.size;
        quiet = Date.now();
      }
    }
    await consumer.disconnect();
    runner.proc.kill('SIGTERM');
    const r = await runner.done;
    latencies.sort((a, b) => a - b);
    const [p50, p95, p99, max] = [percentile(latencies, 50), percentile(latencies, 95), percentile(latencies, 99), latencies.at(-1) ?? NaN];
    log(`${name}: ${latencies.length}/${unique} unique events out (${duplicatesOut} repeated), produced in ${produceSeconds.toFixed(1)} s over ${sends} sends (slowest send ${maxSendMs} ms); latency ms p50 ${p50} p95 ${p95} p99 ${p99} max ${max}; runner ${r.summary.commits} commits taking ${r.commitSeconds.toFixed(1)} s, peak RSS ${mb(r.peakRss)} MB`);
    rows.push(`| ${name === 'spec5' ? 'cart-abandonment, at-least-once' : name === 'dedupe' ? 'dedupe, at-least-once' : 'dedupe, exactly-once'} | ${fmt(latencies.length)} / ${fmt(unique)} | ${p50} | ${p95} | ${p99} | ${max} | ${fmt(r.summary.commits)} | ${mb(r.peakRss)} |`);
    rmSync(join(dir, `state-lat-${name}`), { recursive: true, force: true });
  }
  return [
    `Latency: the runner unbounded (${partitions} source partitions); ${fmt(total)} generated events (no late ones) produced at ${rate}/s for ${seconds} s in sends every ~10 ms; a read_committed consumer of the sink topic (fetch wait 20 ms) takes output arrival − send time per unique messageId (ms, one clock).`,
    '',
    '| case | events out / unique sent | p50 ms | p95 ms | p99 ms | max ms | commits | runner peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ];
}

/** Waits until group `group` has committed `total` records of `topic` (summed over partitions). */
async function waitCommitted(group: string, topic: string, total: number): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    for (;;) {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const done = (t?.partitions ?? []).reduce((a, x) => a + Math.max(0, Number(x.offset)), 0);
      if (done >= total) return;
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

// ---- 3. restore ------------------------------------------------------------------------------

async function restore(dir: string): Promise<string[]> {
  const rows: string[] = [];
  for (const keys of list('BENCH_RESTORE_KEYS', '200000,1000000').map(Number)) {
    const p = dedupePipeline(dir, false);
    await createTopic(p.source, 1);
    // Distinct messageIds within one hour of event time: nothing expires (ttl 24h), the store ends with `keys` entries.
    const base = Date.UTC(2026, 0, 1);
    const events = Array.from({ length: keys }, (_, i): TributaryEvent => ({
      type: 'track', event: 'product_viewed', messageId: `m-${i}`, anonymousId: `a-${i % 10_000}`,
      timestamp: base + Math.floor((i / keys) * 3_600_000), properties: { productId: `p-${i % 2000}` },
    }) as unknown as TributaryEvent);
    const rate = await produceAll(p.source, events, ['anonymousId', 'userId']);
    log(`restore ${keys}: produced at ${fmt(rate)}/s; first run builds the store and its changelog`);
    const stateDir = join(dir, `state-restore-${keys}`);
    // Unbounded, stopped once everything is committed: a bounded run ends with watermark +∞,
    // which expires every dedupe key (the changelog would end with N deletes, an empty store).
    const firstRunner = startRunner(p.file, stateDir, false);
    await firstRunner.ready;
    await waitCommitted(p.name, p.source, keys);
    firstRunner.proc.kill('SIGTERM');
    const first = await firstRunner.done;
    log(`restore ${keys}: first run ${first.summary.records} records in ${(first.wallMs / 1000).toFixed(1)} s (${(first.afterReadyMs / 1000).toFixed(1)} s after ready) (${fmt(first.summary.records / (first.wallMs / 1000))}/s), peak RSS ${mb(first.peakRss)} MB`);
    rmSync(stateDir, { recursive: true, force: true });
    // Unbounded again (a bounded run whose input is all committed ends at once, and its end
    // expires every key: 1M deletes, ~9 s and ~300 MB more); stopped once ready.
    const secondRunner = startRunner(p.file, stateDir, false);
    await secondRunner.ready;
    secondRunner.proc.kill('SIGTERM');
    const second = await secondRunner.done;
    const dedupeStore = second.summary.restored.filter((x) => x.records >= keys / 2);
    const applied = dedupeStore.reduce((a, x) => a + x.records, 0);
    const ms = dedupeStore.reduce((a, x) => a + x.ms, 0);
    log(`restore ${keys}: ${JSON.stringify(second.summary.restored)}; second run wall ${(second.wallMs / 1000).toFixed(1)} s, ready after ${(second.readyMs / 1000).toFixed(1)} s, peak RSS ${mb(second.peakAtReady)} MB up to ready, ${mb(second.peakRss)} MB overall`);
    for (const l of second.logs.slice(-3)) log(`    ${l}`);
    rows.push(`| ${fmt(keys)} | ${fmt(applied)} | ${(ms / 1000).toFixed(2)} | ${fmt(applied / (ms / 1000))} | ${(second.readyMs / 1000).toFixed(2)} | ${mb(second.peakAtReady)} | ${(first.wallMs / 1000).toFixed(1)} (${fmt(first.summary.records / (first.wallMs / 1000))}/s) |`);
    rmSync(stateDir, { recursive: true, force: true });
    await deleteTopicsLike(p.name.split('-').slice(-3).join('-'));
  }
  return [
    'Restore: a dedupe pipeline (ttl 24h) run (unbounded, stopped once all input is committed) over N distinct messageIds in one source partition (one task, one store of N keys, its changelog written by the runner); the state directory deleted; the same pipeline started again (unbounded, stopped once ready): the task restores the store from the changelog before it is ready (summary.restored, the runner\'s "restored <store>: N records … in X ms").',
    '',
    '| keys | records restored | restore s | records/s | second run: start → ready s | second run peak RSS MB (up to ready) | first run s (events/s) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ];
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  brokers();
  const dir = mkdtempSync(join(tmpdir(), 'tributary-kafka-bench-'));
  const out: string[] = [];
  try {
    for (const c of list('BENCH_CASES', 'throughput,latency,restore')) {
      const lines = c === 'throughput' ? await throughput(dir) : c === 'latency' ? await latency(dir) : c === 'restore' ? await restore(dir) : undefined;
      if (!lines) throw new Error(`unknown case ${c}`);
      out.push(...lines, '');
      console.log([...lines, ''].join('\n'));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`node ${process.version}, brokers ${process.env.KAFKA_BROKERS}`);
}

await main();
