// Kafka runner tests over the in-memory broker (lib/runtime/kafka/memory): a bundled pipeline
// with its own topics, its embedded run over the same events as the reference, the source topic
// filled (each person's events in one partition, as a producer keyed by customer puts them).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { runEmbedded, type RunSummary } from '../../lib/runtime/embedded.js';
import type { ConsumedRecord, KafkaAdapter, ProducerRecord } from '../../lib/runtime/kafka/adapter.js';
import { createMemoryKafka, type MemoryKafka } from '../../lib/runtime/kafka/memory/index.js';
import { canonical, compareWithEmbedded, personPartitioner, produceEvents, uniquePipeline, type StreamDiff, type TestPipeline } from './kafka-pipeline.js';
import { tempDir } from './tmp.js';

export interface MemoryScenario {
  kafka: MemoryKafka;
  p: TestPipeline;
  dir: string;
  /** The embedded run's outputs: `<embeddedDir>/<stream>.ndjson`. */
  embeddedDir: string;
  embedded: RunSummary;
  partitionOf: (e: TributaryEvent) => number;
}

export interface ScenarioOptions {
  /** The events of the embedded run (all of them, whatever is produced into the topic). */
  events: TributaryEvent[];
  partitions: number;
  /** Events produced into the source topic before the test goes on; default all. */
  produce?: TributaryEvent[];
  edit?: (def: PipelineDefinition) => void;
}

/** The pipeline at `examples/<path>`, its embedded run, a memory broker with the source topic filled. */
export async function memoryScenario(path: string, options: ScenarioOptions): Promise<MemoryScenario> {
  const dir = tempDir('tributary-memkafka-');
  const p = uniquePipeline(path, dir, options.edit);
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, options.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const embeddedDir = join(dir, 'embedded');
  const embedded = await runEmbedded({ topology: p.topology, input, outDir: embeddedDir });
  assert.equal(embedded.late, 0, 'the reference run has no late event');
  const kafka = createMemoryKafka();
  const admin = await kafka.adapter('setup').admin();
  await admin.createTopics([{ name: p.source, partitions: options.partitions }]);
  await admin.disconnect();
  const partitionOf = personPartitioner(options.events, options.partitions);
  await produceEvents(kafka.adapter('setup'), p.source, options.produce ?? options.events, p.topology.source.key, partitionOf);
  return { kafka, p, dir, embeddedDir, embedded, partitionOf };
}

/** Every stream's records in the broker (read_committed) against the embedded run's. */
export function diffWithEmbedded(s: MemoryScenario): Promise<StreamDiff[]> {
  return compareWithEmbedded(s.kafka.adapter('reader'), s.p, s.embeddedDir);
}

/** The diffs as one comparable value: per stream, how many records and what is missing, duplicated or foreign. */
export function summarize(diffs: StreamDiff[]) {
  return diffs.map((d) => ({ stream: d.stream, records: d.got, missing: d.missing.length, duplicates: d.extra.length - d.foreign.length, foreign: d.foreign.length }));
}

/** What an exact run gives: each stream with the embedded run's record count, nothing missing, repeated or foreign. */
export function exact(s: MemoryScenario, duplicates: Record<string, number> = {}) {
  return s.p.topology.streams.map((stream) => ({
    stream: stream.name, records: (s.embedded.streams[stream.name] ?? 0) + (duplicates[stream.name] ?? 0), missing: 0, duplicates: duplicates[stream.name] ?? 0, foreign: 0,
  }));
}

/** Whether group `group` has committed every partition of `topic` up to its end (markers left aside). */
export function caughtUp(kafka: MemoryKafka, group: string, topic: string): boolean {
  const committed = kafka.broker.committed(group, topic);
  return kafka.broker.topic(topic)!.logs.every((log) => {
    const last = [...log.all()].reverse().find((e) => !e.control);
    const c = committed.find((o) => o.partition === log.partition);
    return last === undefined || (c !== undefined && Number(c.offset) > last.offset);
  });
}

/** Polls `check` every 5 ms until it holds; fails with `what` after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Decoded JSON values of records, per key in offset order (records of one key share a partition). */
export function valuesByKey(records: ConsumedRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const sorted = [...records].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  for (const r of sorted) {
    if (r.value === null) continue;
    const k = r.key?.toString() ?? '';
    out.set(k, [...(out.get(k) ?? []), canonical(JSON.parse(r.value.toString()))]);
  }
  return out;
}

/**
 * The adapter with consumers that fetch at most `bytes` per partition, so a run over a small
 * input still has many batches (and, with `commitIntervalMs: 0`, a commit after each).
 */
export function smallFetches(adapter: KafkaAdapter, bytes: number): KafkaAdapter {
  return { ...adapter, consumer: (options) => adapter.consumer({ ...options, maxBytesPerPartition: bytes }) };
}

/**
 * The adapter with every record its producers send (not in transactions) also kept in `sent`, in
 * order: what went into the repartition topics, which the runner trims when it stops.
 */
export function recordingSends(adapter: KafkaAdapter, sent: ProducerRecord[] = []): { adapter: KafkaAdapter; sent: ProducerRecord[] } {
  return {
    sent,
    adapter: {
      ...adapter,
      producer: async (options) => {
        const p = await adapter.producer(options);
        return { ...p, send: (records) => (sent.push(...records), p.send(records)) };
      },
    },
  };
}

/**
 * The adapter with every producer send (not in transactions) acknowledged `ms` later, as a broker
 * over a network does: commits take time, and the consumer fetches meanwhile.
 */
export function slowSends(adapter: KafkaAdapter, ms: number): KafkaAdapter {
  return {
    ...adapter,
    producer: async (options) => {
      const p = await adapter.producer(options);
      return { ...p, send: async (records) => (await sleep(ms), p.send(records)) };
    },
  };
}

/**
 * A memory Kafka whose `topic` (one partition) holds `values` without keys, each sent alone (so
 * a value near the broker's message size is a batch of its own, as a producer would send it).
 */
export async function memoryTopicWith(topic: string, values: readonly Buffer[]): Promise<{ kafka: MemoryKafka; adapter: KafkaAdapter }> {
  const kafka = createMemoryKafka();
  const adapter = kafka.adapter('app');
  const admin = await adapter.admin();
  await admin.createTopics([{ name: topic, partitions: 1 }]);
  await admin.disconnect();
  const producer = await adapter.producer();
  for (const value of values) await producer.send([{ topic, key: null, value }]);
  await producer.disconnect();
  return { kafka, adapter };
}
