/**
 * The record collector: where each record a task writes goes in Kafka, as Kafka Streams'
 * `RecordCollector` decides it. A task's records wait in its `pending` list until its next
 * commit, which encodes them ({@link RecordCollector.encodeAll}) and sends them.
 *
 * - `events` of a sub-topology that has a next one → that one's repartition topic, keyed by its
 *   key, with the event's sequence number ({@link SEQ_HEADER}); an event without that key is a
 *   `missing-key` dead letter.
 * - `events` of the last sub-topology → the sink topic, keyed by the last keyed step's key.
 * - a derived stream → its topic, keyed by the fields its operator's output declaration names
 *   (`key` of sessions, windows and triggers, `personId` of identity merges, …), else by the
 *   record's `key`, `personId` or `messageId`.
 * - `dead-letter` → its topic with headers naming the reason and the source record.
 * - watermark markers → every partition of each downstream repartition topic.
 * - a `forget` request → every partition of the next repartition topic (from partition 0's task).
 * - an event a global-table lookup cannot settle → the resolver's topic.
 * A record its stream cannot encode is dead-lettered at encode time instead (reason
 * `processing-error`), and so is one larger than a Kafka message may be (`oversized`, over
 * `kafka.maxMessageBytes`): the broker would refuse it at every commit of its task, and the
 * task's partition would never get past it.
 */
import type { TributaryEvent } from '../../event/event.js';
import { resolveKey } from '../../event/key.js';
import { tally, type Tally } from '../../metrics/metrics.js';
import type { DerivedRecord } from '../../operator/contract.js';
import type { SubTopology, Topology } from '../../pipeline/compile.js';
import { safeJson, type DeadLetterRecord } from '../task.js';
import type { ConsumedRecord, ProducerRecord } from './client.js';
import { createStreamEncoder, type StreamEncoder } from './codec.js';
import { partitionForKey } from './partitioner.js';
import { boundedRunToken, markerValue, SEQ_HEADER, TASK_HEADER, WATERMARK_HEADER, type KafkaTask, type PendingRecord, type UpstreamState } from './kafka-task.js';
import { downstreamOf, messageOf, partitionsOf, type RunContext } from './run-context.js';

/** Dead-letter headers: the reason, its detail, and the source record's topic, partition and offset. */
export const DEAD_LETTER_HEADERS = {
  reason: 'tributary-reason',
  detail: 'tributary-detail',
  topic: 'tributary-source-topic',
  partition: 'tributary-source-partition',
  offset: 'tributary-source-offset',
} as const;

/**
 * Default of `kafka.maxMessageBytes`: the bytes of key, value and headers one produced record may
 * have. The broker's default `message.max.bytes` (1,048,588) bounds a record batch; a record
 * alone in its batch (the committer sends one that large alone) adds ~90 bytes of its own.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_000;

/** The bytes of key, value and headers one record written to Kafka may have in this pipeline. */
export const maxMessageBytesOf = (topology: Topology): number => topology.definition.kafka?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;

/** A produced record larger than `kafka.maxMessageBytes`. */
class OversizedRecordError extends Error {
  constructor(readonly bytes: number, readonly limit: number) {
    super(`${bytes} bytes (key, value and headers), more than kafka.maxMessageBytes ${limit}`);
  }
}

/** Bytes of a produced record's key, value and headers. */
function recordBytes(r: ProducerRecord): number {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  if (r.headers) for (const [name, value] of Object.entries(r.headers)) n += Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : (value?.length ?? 0));
  return n;
}

export class RecordCollector {
  /** Each stream's topic, encoder and declared key fields. */
  private readonly outputs = new Map<string, { topic: string; encoder: StreamEncoder; key: string[] | undefined }>();
  /** Key of the records on the `events` stream: the key of the last keyed sub-topology. */
  private readonly eventKey: string[] | undefined;
  /** The resolver sub-topology of each `global-table` step. */
  private readonly resolverOf = new Map<string, SubTopology>();
  private readonly maxMessageBytes: number;
  /** Records encoded per stream (`tributary_output_records_total`). */
  private readonly writtenBy = new Map<string, Tally>();

  constructor(private readonly ctx: RunContext) {
    const { topology, options } = ctx;
    this.maxMessageBytes = maxMessageBytesOf(topology);
    for (const stream of topology.streams) {
      const encoder = createStreamEncoder({ stream, ...(options.schemaRegistry ? { registry: options.schemaRegistry } : {}) });
      this.outputs.set(stream.name, { topic: stream.topic, encoder, key: stream.key });
    }
    this.eventKey = topology.subTopologies.findLast((s) => s.key !== undefined)?.key;
    for (const sub of topology.subTopologies) if (sub.resolver) this.resolverOf.set(sub.resolver, sub);
  }

  /** A record the task's steps wrote to `stream` (the Task's output callback). */
  output(t: KafkaTask, stream: string, record: DerivedRecord): void {
    const { topology } = this.ctx;
    if (stream === 'dead-letter') {
      t.pending.push(deadLetterPending(record as DeadLetterRecord, t.current));
      return;
    }
    if (stream === 'events') {
      const next = t.sub.next === undefined ? undefined : topology.subTopologies[t.sub.next];
      if (next) {
        if ((record as TributaryEvent).type === 'forget') {
          this.broadcast(t, record as TributaryEvent, next);
          return;
        }
        const key = next.key ? resolveKey(record as TributaryEvent, next.key) : (record as TributaryEvent).messageId;
        if (key === undefined) {
          this.deadLetter(t, {
            reason: 'missing-key',
            detail: `no ${next.key?.join(' or ')} to repartition by for ${next.steps[0] ?? 'the next step'}`,
            raw: safeJson(record),
            source: t.current ? sourceOf(t.current) : t.id,
          });
          return;
        }
        this.forward(t, record, key, next.input);
        return;
      }
      const key = this.eventKey ? resolveKey(record as TributaryEvent, this.eventKey) : firstString(record.key, record.personId, record.messageId);
      t.pending.push({ stream, record, key, origin: t.current });
      return;
    }
    const declared = this.outputs.get(stream)?.key;
    const key = declared ? resolveKey(record as TributaryEvent, declared) : firstString(record.key, record.personId, record.messageId);
    t.pending.push({ stream, record, key, origin: t.current });
  }

  /**
   * A forget request (widened by this task's steps) to every task of the next sub-topology: every
   * partition of its repartition topic. Each task of this sub-topology applied it (it was on every
   * partition of its input); only the task of partition 0 sends it on, so the next tasks get it
   * once (a sub-topology that widens it, joinIdentity's, has one partition).
   */
  private broadcast(t: KafkaTask, event: TributaryEvent, next: SubTopology): void {
    if (t.partition !== 0) return;
    const seq = t.nextSeq();
    for (let p = 0; p < partitionsOf(this.ctx, next); p++) {
      t.pending.push({ stream: 'events', record: event, key: event.messageId, repartition: next.input, partition: p, ...(seq ? { headers: { [TASK_HEADER]: t.id, [SEQ_HEADER]: seq } } : {}) });
    }
  }

  /** An event a global-table lookup could not settle, to the step's resolver task. */
  toResolver(t: KafkaTask, step: string, event: TributaryEvent): void {
    this.forward(t, event, event.messageId, (this.resolverOf.get(step) as SubTopology).input);
  }

  private forward(t: KafkaTask, record: DerivedRecord, key: string, topic: string): void {
    const seq = t.nextSeq();
    t.pending.push({ stream: 'events', record, key, repartition: topic, origin: t.current, ...(seq ? { headers: { [TASK_HEADER]: t.id, [SEQ_HEADER]: seq } } : {}) });
  }

  /** A dead letter the collector itself makes (the Task counted those its steps made by reason). */
  private deadLetter(t: KafkaTask, dl: DeadLetterRecord): void {
    this.ctx.metrics.deadLetters.inc({ pipeline: this.ctx.app, reason: dl.reason });
    t.pending.push(deadLetterPending(dl, t.current));
  }

  /** Counts a record of `stream` encoded for its topic (the Task counts none in Kafka mode). */
  private written(stream: string): void {
    let c = this.writtenBy.get(stream);
    if (c === undefined) this.writtenBy.set(stream, (c = tally(this.ctx.metrics.streamRecords, { pipeline: this.ctx.app, stream })));
    c.inc();
  }

  /** What a task tells the tasks downstream of it: its watermark, `idle` or `end`. */
  private watermarkOf(t: KafkaTask): UpstreamState {
    if (t.ended) return t.endedFinal ? 'end' : 'paused';
    const wm = t.task.watermarks.current();
    if (t.sub.input !== 'source') {
      for (const s of t.upstream.values()) if (s !== 'idle' && s !== 'end') return wm;
      return 'idle';
    }
    if (wm === -Infinity) {
      // No event yet: idle once the partition has been silent for idleTimeout.
      return this.ctx.clock.now() - t.lastEventAt >= this.ctx.topology.source.idleTimeoutMs ? 'idle' : -Infinity;
    }
    return wm;
  }

  /** Queues watermark markers for the next sub-topologies when what this task reports changed. */
  reportWatermark(t: KafkaTask, force = false): void {
    const downstream = downstreamOf(this.ctx.topology, t.sub);
    if (downstream.length === 0) return;
    const state = this.watermarkOf(t);
    if (state === -Infinity) return;
    if (!force && state === t.reported) return;
    t.reported = state;
    const value = markerValue(state, t.task.watermarks.current(), boundedRunToken(this.ctx.sourceEnd));
    for (const next of downstream) {
      for (let p = 0; p < partitionsOf(this.ctx, next); p++) {
        t.pending.push({ stream: '', record: {}, key: undefined, repartition: next.input, headers: { [WATERMARK_HEADER]: value, [TASK_HEADER]: t.id }, partition: p, marker: true });
      }
    }
  }

  /** The task's pending records as producer records (those that cannot be encoded as dead letters). */
  async encodeAll(t: KafkaTask): Promise<ProducerRecord[]> {
    const records: ProducerRecord[] = [];
    for (const p of t.pending) {
      try {
        records.push(this.bounded(await this.encode(p)));
        if (!p.marker && p.repartition === undefined) this.written(p.stream);
      } catch (error) {
        if (p.stream === 'dead-letter' || p.marker) throw error;
        const where = p.repartition ? `repartition topic ${p.repartition}` : `stream ${p.stream} (topic ${this.outputs.get(p.stream)?.topic ?? '?'})`;
        const oversized = error instanceof OversizedRecordError;
        const dl: DeadLetterRecord = {
          reason: oversized ? 'oversized' : 'processing-error',
          detail: oversized
            ? `a record for ${where} is ${error.message}: a Kafka message is at most that (the broker's message.max.bytes); set kafka.maxMessageBytes if the brokers and topics take larger ones`
            : `a record for ${where} could not be encoded: ${messageOf(error)}`,
          raw: safeJson(p.record),
          source: p.origin ? sourceOf(p.origin) : t.id,
        };
        this.ctx.metrics.deadLetters.inc({ pipeline: this.ctx.app, reason: dl.reason });
        records.push(await this.encode(deadLetterPending(dl, p.origin)));
        this.written('dead-letter');
      }
    }
    return records;
  }

  /** `r`, or an {@link OversizedRecordError} when the broker would refuse it for its size. */
  private bounded(r: ProducerRecord): ProducerRecord {
    // Most records are far below the bound: only a value over a quarter of it is counted exactly.
    if ((r.value?.length ?? 0) + (r.key?.length ?? 0) < this.maxMessageBytes / 4) return r;
    const bytes = recordBytes(r);
    if (bytes > this.maxMessageBytes) throw new OversizedRecordError(bytes, this.maxMessageBytes);
    return r;
  }

  private async encode(p: PendingRecord): Promise<ProducerRecord> {
    const key = p.key === undefined ? null : Buffer.from(p.key);
    if (p.repartition) {
      return {
        topic: p.repartition,
        key,
        value: p.marker ? null : Buffer.from(JSON.stringify(p.record)),
        ...(p.headers ? { headers: p.headers } : {}),
        ...(p.partition === undefined ? this.placed(p.repartition, key) : { partition: p.partition }),
      };
    }
    const out = this.outputs.get(p.stream);
    if (!out) throw new Error(`internal: unknown stream ${p.stream}`);
    const value = await out.encoder.encode(p.record);
    return { topic: out.topic, key, value, ...(p.headers ? { headers: p.headers } : {}), ...this.placed(out.topic, key) };
  }

  /**
   * The partition of a keyed record, as Kafka's default partitioner places it (murmur2 of the key):
   * computed here because kafkajs's own murmur2 works on 64-bit Long objects and cost 6% of the
   * runtime's CPU in the cart-abandonment pipeline.
   */
  private placed(topic: string, key: Buffer | null): { partition?: number } {
    const n = key === null ? undefined : this.ctx.partitionCounts.get(topic);
    return n === undefined ? {} : { partition: partitionForKey(key as Buffer, n) };
  }
}

/** `topic/partition/offset` of a consumed record. */
export const sourceOf = (r: ConsumedRecord): string => `${r.topic}/${r.partition}/${r.offset}`;

/**
 * Characters of a dead letter's `raw` kept in Kafka. A broker takes records up to 1 MB by
 * default; a rejected record near `maxRecordBytes` (or over it: `oversized`) copied whole into
 * its dead letter would be refused, fail every commit of its task and stop the pipeline on that
 * record. The source topic/partition/offset still point at the whole record.
 */
export const DEAD_LETTER_RAW_MAX = 64 * 1024;

/** `dl` with `raw` cut to {@link DEAD_LETTER_RAW_MAX} characters, the cut said in `detail`. */
export function boundedDeadLetter(dl: DeadLetterRecord): DeadLetterRecord {
  if (dl.raw.length <= DEAD_LETTER_RAW_MAX) return dl;
  return { ...dl, raw: dl.raw.slice(0, DEAD_LETTER_RAW_MAX), detail: `${dl.detail} (raw: the first ${DEAD_LETTER_RAW_MAX} of ${dl.raw.length} characters)` };
}

/** A dead letter with its headers: reason, detail, and the input record's topic/partition/offset. */
function deadLetterPending(whole: DeadLetterRecord, c: ConsumedRecord | undefined): PendingRecord {
  const dl = boundedDeadLetter(whole);
  return {
    stream: 'dead-letter',
    record: dl,
    key: undefined,
    headers: {
      [DEAD_LETTER_HEADERS.reason]: dl.reason,
      [DEAD_LETTER_HEADERS.detail]: dl.detail.slice(0, 1000),
      ...(c ? { [DEAD_LETTER_HEADERS.topic]: c.topic, [DEAD_LETTER_HEADERS.partition]: String(c.partition), [DEAD_LETTER_HEADERS.offset]: c.offset } : {}),
    },
  };
}

function firstString(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === 'string' && v.length > 0) return v;
  return undefined;
}
