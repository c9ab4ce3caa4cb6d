/**
 * A chaos run's outputs against a reference run of the same input, stream by stream: records
 * lost (in the reference, absent by identity from the run), duplicated (identity present more
 * often than in the reference) and foreign (identity the reference never produced).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledStream, Topology } from '../../lib/pipeline/compile.js';
import type { KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { decodeStreamAvro } from '../../lib/serde/derived-avro.js';

/** JSON with object keys sorted, so equal records compare equal whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

/**
 * What identifies a record of a stream kind whatever an at-least-once replay did to its counts
 * (a session or an aggregate replayed against state that already held an event counts it twice:
 * same identity, other values).
 */
export function identity(kind: string): (r: Record<string, unknown>) => string {
  switch (kind) {
    case 'sessions': return (r) => String(r.sessionId);
    case 'triggers': return (r) => String(r.triggerId);
    case 'aggregates': return (r) => `${String(r.key)}|${String(r.windowStart)}|${String(r.windowEnd)}|${String(r.emittedAt ?? '')}`;
    case 'identity-merges': return (r) => canonical(r);
    case 'dead-letter': return (r) => `${String(r.reason)}|${String(r.source)}`;
    default: return (r) => String(r.messageId);
  }
}

export interface StreamCount {
  stream: string;
  reference: number;
  got: number;
  /** Reference identities absent from the run. */
  lost: number;
  /** Records beyond the reference's count of their identity. */
  duplicated: number;
  /** Records whose identity the reference does not have. */
  foreign: number;
  /** Records equal to a reference record, byte for byte (canonical JSON): the exact multiset match. */
  exact: boolean;
  /** The distinct records equal the reference's distinct records: any duplicates are identical copies (no value counted twice). */
  sameDistinct: boolean;
  example?: string;
}

/** Compares two lists of records (parsed JSON) of one stream. */
export function compareRecords(stream: string, kind: string, reference: unknown[], got: unknown[]): StreamCount {
  const id = identity(kind);
  const want = new Map<string, number>();
  for (const r of reference) want.set(id(r as Record<string, unknown>), (want.get(id(r as Record<string, unknown>)) ?? 0) + 1);
  const have = new Map<string, number>();
  for (const r of got) have.set(id(r as Record<string, unknown>), (have.get(id(r as Record<string, unknown>)) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  let foreign = 0;
  let example: string | undefined;
  for (const [k, n] of want) {
    const m = have.get(k) ?? 0;
    if (m < n) {
      lost += n - m;
      example ??= `lost ${k}`;
    }
  }
  for (const [k, m] of have) {
    const n = want.get(k) ?? 0;
    if (n === 0) {
      foreign += m;
      example ??= `foreign ${k}`;
    } else if (m > n) duplicated += m - n;
  }
  const a = reference.map(canonical).sort();
  const b = got.map(canonical).sort();
  const exact = a.length === b.length && a.every((x, i) => x === b[i]);
  const da = [...new Set(a)];
  const db = [...new Set(b)];
  const sameDistinct = da.length === db.length && da.every((x, i) => x === db[i]);
  return { stream, reference: reference.length, got: got.length, lost, duplicated, foreign, exact, sameDistinct, ...(example ? { example } : {}) };
}

/** Every record of a stream's topic, decoded (JSON or Avro, as the stream says); committed ones only by default. */
export async function readStream(adapter: KafkaAdapter, stream: CompiledStream, readCommitted = true): Promise<unknown[]> {
  const admin = await adapter.admin();
  let ends;
  try {
    if (!(await admin.listTopics()).includes(stream.topic)) return [];
    ends = await admin.endOffsets(stream.topic);
  } finally {
    await admin.disconnect();
  }
  const out: unknown[] = [];
  await Promise.all(ends.map(async (w) => {
    if (BigInt(w.high) <= BigInt(w.low)) return;
    for await (const r of adapter.readPartition(stream.topic, w.partition, { from: 'earliest', upTo: (BigInt(w.high) - 1n).toString(), readCommitted })) {
      if (r.value === null) continue;
      if (stream.format !== 'avro') out.push(JSON.parse(r.value.toString('utf8')));
      else {
        const d = decodeStreamAvro(stream.kind, r.value);
        if (!d.ok) throw new Error(`${stream.topic}/${r.partition}/${r.offset}: ${d.detail}`);
        out.push(d.record);
      }
    }
  }));
  return out;
}

/** The records of an embedded run's `<dir>/<stream>.ndjson`. */
export function readEmbedded(dir: string, stream: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(join(dir, `${stream}.ndjson`), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
}

/** Every stream of `topology` in Kafka against the reference `ref(stream)`. */
export async function compareTopology(adapter: KafkaAdapter, topology: Topology, ref: (s: CompiledStream) => Promise<unknown[]> | unknown[]): Promise<StreamCount[]> {
  const out: StreamCount[] = [];
  for (const s of topology.streams) out.push(compareRecords(s.name, s.kind, await ref(s), await readStream(adapter, s)));
  return out;
}
