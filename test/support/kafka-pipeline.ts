// Kafka runner tests: a bundled pipeline renamed so that every run has its own application id
// and topics, events produced into its source topic, topics read back whole.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { generateEvents } from '../../lib/generate/index.js';
import type { PipelineDefinition } from '../../lib/pipeline/definition.js';
import { compilePipeline, type Topology } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import type { CompiledStream } from '../../lib/pipeline/compile.js';
import { createKafkaJsAdapter, type ConsumedRecord, type KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { decodeStreamAvro } from '../../lib/serde/derived-avro.js';
import { defaultRegistry } from '../../operators/index.js';
import { ROOT } from './cli.js';
import { kafkaBrokers, uniqueName } from './kafka.js';

export interface TestPipeline {
  file: string;
  topology: Topology;
  /** Output topic of each stream. */
  topics: Record<string, string>;
  source: string;
}

/** Renames a definition's application id and every topic it names with `-<suffix>` (in place). */
export function withSuffix(def: PipelineDefinition, suffix: string): void {
  def.name = `${def.name}-${suffix}`;
  def.source.topic = `${def.source.topic ?? 'events'}-${suffix}`;
  if (def.sink?.topic) def.sink.topic = `${def.sink.topic}-${suffix}`;
  for (const target of Object.values(def.outputs ?? {})) if (target.topic) target.topic = `${target.topic}-${suffix}`;
}

/** Copies `examples/<path>` into `dir` with a unique name and topics (`edit` may change more). */
export function uniquePipeline(path: string, dir: string, edit?: (def: PipelineDefinition) => void): TestPipeline {
  const def = parse(readFileSync(join(ROOT, path), 'utf8')) as PipelineDefinition;
  withSuffix(def, uniqueName('').replace(/^-/, ''));
  edit?.(def);
  const file = join(dir, `${def.name}.yaml`);
  writeFileSync(file, stringify(def));
  const topology = compilePipeline(loadPipelineFile(file, defaultRegistry), defaultRegistry);
  const topics = Object.fromEntries(topology.streams.map((s) => [s.name, s.topic]));
  return { file, topology, topics, source: def.source.topic as string };
}

export function testAdapter(clientId = 'tributary-test'): KafkaAdapter {
  const brokers = kafkaBrokers();
  if (!brokers) throw new Error('no broker');
  return createKafkaJsAdapter({ brokers, clientId, logLevel: 'nothing' });
}

/**
 * Produces events (or raw values) keyed by `key` fields (first non-null) into `topic`; with
 * `partitionOf`, into the partition it says.
 */
export async function produceEvents(
  adapter: KafkaAdapter, topic: string, items: Array<TributaryEvent | Buffer>, key: string[] | undefined,
  partitionOf?: (e: TributaryEvent) => number,
): Promise<void> {
  const producer = await adapter.producer({ idempotent: true });
  try {
    for (let i = 0; i < items.length; i += 1000) {
      await producer.send(items.slice(i, i + 1000).map((item) => {
        if (Buffer.isBuffer(item)) return { topic, key: null, value: item, ...(partitionOf ? { partition: 0 } : {}) };
        const k = key ? resolveKey(item, key) : undefined;
        return {
          topic, key: k === undefined ? null : Buffer.from(k), value: Buffer.from(JSON.stringify(item)),
          ...(partitionOf ? { partition: partitionOf(item) } : {}),
        };
      }));
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every record of `topic` (all partitions, up to their end offsets now), committed ones only by default. */
export async function readTopic(adapter: KafkaAdapter, topic: string, readCommitted = true): Promise<ConsumedRecord[]> {
  const admin = await adapter.admin();
  let ends;
  try {
    ends = await admin.endOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const out: ConsumedRecord[] = [];
  await Promise.all(ends.map(async (w) => {
    if (BigInt(w.high) <= BigInt(w.low)) return;
    for await (const r of adapter.readPartition(topic, w.partition, { from: 'earliest', upTo: (BigInt(w.high) - 1n).toString(), readCommitted })) out.push(r);
  }));
  return out;
}

/** Records of a JSON topic as sorted JSON lines (a multiset to compare). */
export function jsonMultiset(records: ConsumedRecord[]): string[] {
  return records.filter((r) => r.value !== null).map((r) => canonical(JSON.parse(r.value!.toString()))).sort();
}

/** Lines of an NDJSON file as a sorted multiset. */
export function ndjsonMultiset(text: string): string[] {
  return text.split('\n').filter(Boolean).map((l) => canonical(JSON.parse(l))).sort();
}

/** JSON with object keys sorted, so equal records compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

/**
 * A partition per person of the generated stream: identifiers linked by any event (identify,
 * alias, an event carrying both ids) form one person; each person's events go to one partition,
 * as a producer keyed by customer would place them.
 */
export function personPartitioner(events: TributaryEvent[], partitions: number): (e: TributaryEvent) => number {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const ids = (e: TributaryEvent) => [e.userId && `u:${e.userId}`, e.anonymousId && `a:${e.anonymousId}`, e.previousId && `u:${e.previousId}`, e.previousId && `a:${e.previousId}`]
    .filter((x): x is string => typeof x === 'string');
  for (const e of events) {
    const list = ids(e);
    for (const id of list) if (!parent.has(id)) parent.set(id, id);
    const [first, ...rest] = list;
    // an alias previousId is one identifier typed either way: link both spellings
    for (const other of rest) if (first) parent.set(find(other), find(first));
  }
  const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  return (e) => {
    const [first] = ids(e);
    return first ? hash(find(first)) % partitions : 0;
  };
}

/** Generated events without late arrivals (disorder within 20 s < the examples' 1m lateness), so no runtime sees a late event. */
export function testEvents(n: number, seed: number): TributaryEvent[] {
  return [...generateEvents({ events: n, seed, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
}

/** The records of a stream's topic (JSON or Avro, as the stream says) as a sorted multiset of canonical JSON. */
export async function topicMultiset(adapter: KafkaAdapter, stream: CompiledStream, readCommitted = true): Promise<string[]> {
  const records = await readTopic(adapter, stream.topic, readCommitted);
  if (stream.format !== 'avro') return jsonMultiset(records);
  return records.map((r) => {
    const d = decodeStreamAvro(stream.kind, r.value!);
    if (!d.ok) throw new Error(`${stream.topic}/${r.partition}/${r.offset}: ${d.detail}`);
    return canonical(d.record);
  }).sort();
}

/** Whether consumer group `group` has committed the end offset of every partition of `topic`. */
export async function caughtUp(adapter: KafkaAdapter, group: string, topic: string): Promise<boolean> {
  const admin = await adapter.admin();
  try {
    const ends = await admin.endOffsets(topic);
    const committed = await admin.fetchOffsets(group, topic);
    return ends.every((w) => {
      const c = committed.find((o) => o.partition === w.partition);
      return BigInt(w.high) === 0n || (c !== undefined && c.offset !== '-1' && BigInt(c.offset) >= BigInt(w.high));
    });
  } finally {
    await admin.disconnect();
  }
}

/** Waits until group `group` has committed `n` records of `topic` in all (offsets summed over partitions); fails after `ms`. */
export async function waitForCommitted(adapter: KafkaAdapter, group: string, topic: string, n: number, ms = 60_000): Promise<void> {
  const admin = await adapter.admin();
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const committed = (await admin.fetchOffsets(group, topic)).reduce((a, o) => a + (o.offset === '-1' ? 0 : Number(o.offset)), 0);
      if (committed >= n) return;
      if (Date.now() > deadline) throw new Error(`${group} committed ${committed} of ${n} records of ${topic} in ${ms} ms`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/** One stream of a Kafka run against the embedded run's file, as multisets. */
export interface StreamDiff {
  stream: string;
  want: number;
  got: number;
  missing: string[];
  /** Records beyond the embedded multiset. */
  extra: string[];
  /** Extra records that are not embedded records at all (not duplicates). */
  foreign: string[];
}

/** Each stream's records in Kafka against `<embeddedDir>/<stream>.ndjson`. */
export async function compareWithEmbedded(adapter: KafkaAdapter, p: TestPipeline, embeddedDir: string): Promise<StreamDiff[]> {
  const out: StreamDiff[] = [];
  for (const stream of p.topology.streams) {
    const want = ndjsonMultiset(readFileSync(join(embeddedDir, `${stream.name}.ndjson`), 'utf8'));
    const got = await topicMultiset(adapter, stream);
    const remaining = new Map<string, number>();
    for (const x of want) remaining.set(x, (remaining.get(x) ?? 0) + 1);
    const extra: string[] = [];
    for (const x of got) {
      const n = remaining.get(x) ?? 0;
      if (n > 0) remaining.set(x, n - 1);
      else extra.push(x);
    }
    const missing = [...remaining].flatMap(([x, n]) => Array<string>(n).fill(x));
    const wanted = new Set(want);
    out.push({ stream: stream.name, want: want.length, got: got.length, missing, extra, foreign: extra.filter((x) => !wanted.has(x)) });
  }
  return out;
}
