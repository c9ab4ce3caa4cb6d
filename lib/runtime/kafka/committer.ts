/**
 * A task's commit: its outputs, its stores' changelog records and its input offset, made
 * durable together. One implementation per guarantee, the same three steps:
 *
 * 1. **Prepare** ({@link prepareCommit}): queue watermark markers, write the task's checkpoint
 *    record when it changed, let the caching layer write its dirty keys down, take them as the
 *    changelog batch (one record per changed key), encode everything pending.
 * 2. **Deliver** (the guarantee's own):
 *    - at-least-once ({@link AtLeastOnceCommitter}): send on the producer the tasks share
 *      (idempotent, acks=all); record each store's last changelog offset and the input offset the
 *      state covers beside the state in one LMDB transaction; commit the input offset with the
 *      changelog offsets as the commit's metadata (what a restore may apply).
 *    - exactly-once ({@link ExactlyOnceCommitter}): the task's transactional producer sends
 *      everything and the input offset in one Kafka transaction; after it commits, the LMDB
 *      flush (the state is rebuilt from the changelogs if that flush is lost).
 * 3. **Finish**: clear what was pending, count the commit and its latency.
 *
 * A failure anywhere throws: the task manager discards the task's uncommitted work and reopens
 * it from the last commit (see `task-manager.ts`).
 */
import { changelogTopic, isOffset } from '../../state/changelog-codec.js';
import type { ProducerRecord, SentBatch, KafkaProducer } from './client.js';
import { taskCheckpoint, type KafkaTask } from './kafka-task.js';
import { maxMessageBytesOf, type RecordCollector } from './record-collector.js';
import type { RunContext } from './run-context.js';

/** Meta key of the input offset a task's flushed state covers (at-least-once). */
export const INPUT_META = 'tributary/input';

/** What the commit of one task sends. */
interface Prepared {
  records: ProducerRecord[];
  /** Changelog topic → the store and how many of its records are in `records`. */
  changelogs: Map<string, { store: string; count: number }>;
  /** The input offset to commit (next to read), when the task processed input since. */
  next: string | undefined;
  /** Whether any store changed. */
  changed: boolean;
}

export interface Committer {
  /** Readies a task opened by the task manager (exactly-once: its transactional producer). */
  open(t: KafkaTask): Promise<void>;
  /**
   * Hands the task's pending outputs to the producer now, without waiting for their
   * acknowledgements (the commit does); waits only while {@link MAX_IN_FLIGHT} sends of the task
   * are unacknowledged (backpressure).
   */
  send(t: KafkaTask): Promise<void>;
  /** Commits a task (nothing when it has nothing to commit). */
  commit(t: KafkaTask): Promise<void>;
  /**
   * Deletes what a task behind a repartition topic has committed from that topic (as Kafka
   * Streams purges repartition topics): at most every {@link PURGE_INTERVAL_MS}, or now with `force`.
   */
  trim(t: KafkaTask, force?: boolean): void;
  /** Releases what the committer holds (producers), after the trims under way. */
  close(): Promise<void>;
}

/** How often a task trims its repartition topic partition (Kafka Streams: `repartition.purge.interval.ms`, 30 s). */
export const PURGE_INTERVAL_MS = 30_000;

/** The committer of the topology's guarantee. */
export function createCommitter(ctx: RunContext, collector: RecordCollector): Committer {
  return ctx.eos ? new ExactlyOnceCommitter(ctx, collector) : new AtLeastOnceCommitter(ctx, collector);
}

/** Unacknowledged sends a task may have before it waits for them. */
export const MAX_IN_FLIGHT = 4;

abstract class BaseCommitter implements Committer {
  /** Trims (deleteRecords) under way. */
  private readonly trims = new Set<Promise<void>>();

  constructor(protected readonly ctx: RunContext, private readonly collector: RecordCollector) {}

  abstract open(t: KafkaTask): Promise<void>;
  protected abstract release(): Promise<void>;

  async close(): Promise<void> {
    await Promise.all([...this.trims]);
    await this.release();
  }

  trim(t: KafkaTask, force = false): void {
    if (t.sub.input === 'source' || t.committed === undefined || t.committed === t.trimmedTo) return;
    const now = performance.now();
    if (!force && now - t.trimmedAt < PURGE_INTERVAL_MS) return;
    t.trimmedAt = now;
    t.trimmedTo = t.committed;
    const { ctx } = this;
    const trimming = ctx.admin.deleteRecords(t.topic, [{ partition: t.partition, offset: t.committed }])
      .catch((error: unknown) => ctx.log(`task ${t.id}: trimming ${t.topic}/${t.partition} failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => this.trims.delete(trimming));
    this.trims.add(trimming);
  }
  protected abstract deliver(t: KafkaTask, prepared: Prepared): Promise<void>;
  /** The function that sends one chunk of the task's records (and what to do when it fails). */
  protected abstract sender(t: KafkaTask): Promise<(chunk: ProducerRecord[]) => Promise<SentBatch[]>>;

  async send(t: KafkaTask): Promise<void> {
    if (t.closed || t.pending.length === 0) return;
    if (t.inFlight >= MAX_IN_FLIGHT) await t.sending;
    const records = await this.collector.encodeAll(t);
    t.pending = [];
    const send = await this.sender(t);
    t.sentSinceCommit = true;
    // Each send after the one before (one producer, ordered per partition; kafkajs's idempotent
    // producer must not have two requests for a partition racing), overlapping with processing.
    t.inFlight++;
    t.sending = t.sending.then(async () => {
      try {
        for (const chunk of chunks(records)) await send(chunk);
      } finally {
        t.inFlight--;
      }
    });
    // A failure surfaces at the task's next send or commit (which awaits `sending`), not here.
    t.sending.catch(() => undefined);
  }

  async commit(t: KafkaTask): Promise<void> {
    if (t.closed) return;
    const prepared = await this.prepare(t);
    if (!prepared) return;
    const t0 = performance.now();
    // What was sent ahead must be acknowledged before the offsets that cover it are committed.
    try {
      await t.sending;
    } catch (error) {
      await t.transaction?.abort().catch(() => undefined);
      t.transaction = undefined;
      throw error;
    }
    await this.deliver(t, prepared);
    if (prepared.next !== undefined) t.committed = prepared.next;
    t.lastCommitAt = performance.now();
    t.sentSinceCommit = false;
    t.pending = [];
    t.lastOffset = undefined;
    this.ctx.stats.commits++;
    this.ctx.metrics.commits.inc({ pipeline: this.ctx.app });
    this.ctx.metrics.commitLatency.observe({ pipeline: this.ctx.app }, (performance.now() - t0) / 1000);
    this.trim(t);
  }

  private async prepare(t: KafkaTask): Promise<Prepared | undefined> {
    this.collector.reportWatermark(t);
    const checkpoint = taskCheckpoint(t);
    const text = JSON.stringify(checkpoint);
    if (text !== t.persisted) {
      t.checkpointStore.put('state', checkpoint);
      t.persisted = text;
    }
    // The state changed since the last commit, each key once: the changelog batch and the LMDB flush.
    t.task.prepareCommit();
    const changes = t.stores.drainChanges();
    if (t.pending.length === 0 && changes.length === 0 && t.lastOffset === undefined && !t.sentSinceCommit) return undefined;
    const records = await this.collector.encodeAll(t);
    const changelogs = new Map<string, { store: string; count: number }>();
    const limit = maxMessageBytesOf(this.ctx.topology);
    for (const { store, records: changed } of changes) {
      const topic = changelogTopic(this.ctx.app, store);
      changelogs.set(topic, { store, count: changed.length });
      for (const c of changed) {
        const bytes = c.key.length + (c.value?.length ?? 0);
        // A value larger than a Kafka message would fail this commit and every one after it:
        // the broker refuses it. It stays in the local state (flushed below) and in memory; the
        // changelog keeps the key's last smaller value, which is what the key comes back with
        // (or none) if the task is opened again from the changelog: a restart or a rebalance.
        if (bytes > limit) this.oversizedChange(t, store, bytes, limit);
        else records.push({ topic, key: c.key, value: c.value, partition: t.partition });
      }
    }
    const next = t.lastOffset === undefined ? undefined : (BigInt(t.lastOffset) + 1n).toString();
    return { records, changelogs, next, changed: changes.length > 0 };
  }

  /** Task/store pairs whose oversized values were logged: once each (the metric counts every one). */
  private readonly oversizedLogged = new Set<string>();

  private oversizedChange(t: KafkaTask, store: string, bytes: number, limit: number): void {
    this.ctx.metrics.changelogOversized.inc({ pipeline: this.ctx.app, store });
    if (this.oversizedLogged.has(`${t.id} ${store}`)) return;
    this.oversizedLogged.add(`${t.id} ${store}`);
    this.ctx.log(`task ${t.id}: a key of store ${store} holds ${bytes} bytes, more than kafka.maxMessageBytes ${limit}: kept in the local state but not written to its changelog: if the task is opened again (a restart, a rebalance), the key may come back with its last logged value, or none (said once per store; tributary_changelog_oversized_total counts them)`);
  }

  /**
   * Sends every record in chunks and records, per changelog, the offset of its last record
   * (the base offset of its records in the chunk + their count − 1) in the task's stores.
   */
  protected async sendAll(t: KafkaTask, prepared: Prepared, send: (chunk: ProducerRecord[]) => Promise<SentBatch[]>): Promise<void> {
    const last = new Map<string, bigint>();
    for (const chunk of chunks(prepared.records)) {
      const sent = await send(chunk);
      const countIn = new Map<string, number>();
      for (const r of chunk) if (prepared.changelogs.has(r.topic)) countIn.set(r.topic, (countIn.get(r.topic) ?? 0) + 1);
      for (const [topic, n] of countIn) {
        const s = sent.find((b) => b.topic === topic && b.partition === t.partition);
        if (!s) throw new Error(`no produce acknowledgement for ${topic}/${t.partition}`);
        last.set(topic, BigInt(s.baseOffset) + BigInt(n - 1));
      }
    }
    for (const [topic, offset] of last) {
      const store = (prepared.changelogs.get(topic) as { store: string }).store;
      t.stores.recordChangelogOffsets(store, t.partition, offset);
      t.changelogAt.set(store, offset);
    }
  }
}

class AtLeastOnceCommitter extends BaseCommitter {
  private producer: Promise<KafkaProducer> | undefined;
  /** Replaced producers, disconnected a while later (other tasks may still be sending). */
  private readonly retired = new Set<Promise<KafkaProducer>>();

  async open(): Promise<void> {
    await this.shared();
  }

  /** Sends on the shared producer; a failed send retires it (see {@link retire}). */
  protected async sender(): Promise<(chunk: ProducerRecord[]) => Promise<SentBatch[]>> {
    const shared = this.shared();
    const producer = await shared;
    return async (chunk) => {
      try {
        return await producer.send(chunk);
      } catch (error) {
        this.retire(shared);
        throw error;
      }
    };
  }

  protected async deliver(t: KafkaTask, prepared: Prepared): Promise<void> {
    const { ctx } = this;
    if (t.committed === undefined && t.firstOffset !== undefined) {
      // The group has no offset for this partition yet, so a restore could not tell this
      // commit's changelog records from committed ones: commit where the task started first.
      await ctx.consumer.commit([{ topic: t.topic, partition: t.partition, offset: t.firstOffset, metadata: commitMetadata(t.changelogAt) }]);
      t.committed = t.firstOffset;
    }
    await this.sendAll(t, prepared, await this.sender());
    // The input offset the flushed state covers, then the offset commit with the changelog
    // offsets it covers (what a restore may apply; see the task manager).
    const covers = prepared.next ?? t.committed;
    if (covers !== undefined) t.lmdb.putMeta(INPUT_META, { topic: t.topic, partition: t.partition, offset: covers });
    await t.stores.flush();
    if (covers !== undefined && (prepared.next !== undefined || prepared.changed)) {
      await ctx.consumer.commit([{ topic: t.topic, partition: t.partition, offset: covers, metadata: commitMetadata(t.changelogAt) }]);
    }
  }

  /** The idempotent producer the tasks share (created again after {@link retire}). */
  private shared(): Promise<KafkaProducer> {
    // One creation at a time: tasks committing together after a replacement share the new one.
    if (!this.producer) {
      const created = this.ctx.options.adapter.producer({ idempotent: true });
      this.producer = created;
      created.catch(() => {
        if (this.producer === created) this.producer = undefined; // try again at the next commit
      });
    }
    return this.producer;
  }

  /**
   * A send failed: later commits use a new producer (a producer whose sequence numbers the
   * broker lost track of keeps failing: after a broker restart kafkajs can keep failing it with
   * OUT_OF_ORDER_SEQUENCE_NUMBER). The old one is disconnected 30 s later, when the sends other
   * tasks have in flight on it are over, or when the run ends.
   */
  private retire(producer: Promise<KafkaProducer>): void {
    if (this.producer !== producer) return;
    this.producer = undefined;
    this.retired.add(producer);
    setTimeout(() => void this.disconnectRetired(producer), 30_000).unref();
  }

  private async disconnectRetired(producer: Promise<KafkaProducer>): Promise<void> {
    if (!this.retired.delete(producer)) return;
    await producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  protected async release(): Promise<void> {
    await this.producer?.then((p) => p.disconnect()).catch(() => undefined);
    await Promise.all([...this.retired].map((p) => this.disconnectRetired(p)));
  }
}

class ExactlyOnceCommitter extends BaseCommitter {
  /** Each task's own transactional producer (`<app>-<task>`; kafkajs has no KIP-447 fencing). */
  async open(t: KafkaTask): Promise<void> {
    t.producer = await this.ctx.options.adapter.producer({ transactionalId: `${this.ctx.app}-${t.id}` });
  }

  /** Sends in the task's open transaction (begun by the first send after a commit). */
  protected async sender(t: KafkaTask): Promise<(chunk: ProducerRecord[]) => Promise<SentBatch[]>> {
    t.transaction ??= await (t.producer as KafkaProducer).transaction();
    const tx = t.transaction;
    return (chunk) => tx.send(chunk);
  }

  protected async deliver(t: KafkaTask, prepared: Prepared): Promise<void> {
    const tx = t.transaction ?? (await (t.producer as KafkaProducer).transaction());
    t.transaction = undefined;
    try {
      await this.sendAll(t, prepared, (chunk) => tx.send(chunk));
      if (prepared.next !== undefined) await tx.sendOffsets({ groupId: this.ctx.app, offsets: [{ topic: t.topic, partition: t.partition, offset: prepared.next }] });
      await tx.commit();
    } catch (error) {
      await tx.abort().catch(() => undefined);
      throw error;
    }
    await t.stores.flush();
  }

  protected async release(): Promise<void> {
    // Task producers are disconnected with their tasks.
  }
}

/** Offset-commit metadata: each store's last changelog offset that the committed input covers. */
function commitMetadata(changelogAt: Map<string, bigint>): string {
  const changelog: Record<string, string> = {};
  for (const [store, offset] of changelogAt) changelog[store] = offset.toString();
  return JSON.stringify({ tributary: 1, changelog });
}

/** The changelog offsets in a commit's metadata (undefined: none, or not ours). */
export function parseCommitMetadata(metadata: string | undefined): Record<string, string | -1> | undefined {
  if (!metadata) return undefined;
  try {
    const m = JSON.parse(metadata) as { tributary?: unknown; changelog?: unknown };
    if (m.tributary !== 1 || typeof m.changelog !== 'object' || m.changelog === null) return undefined;
    const out: Record<string, string | -1> = {};
    for (const [store, v] of Object.entries(m.changelog as Record<string, unknown>)) {
      if (v === '-1') out[store] = -1;
      else if (isOffset(v)) out[store] = v;
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * Sends of at most {@link CHUNK_BYTES} of keys and values and {@link CHUNK_RECORDS} records: no
 * partition's record batch in a produce request exceeds the broker's default
 * `message.max.bytes` (1 MiB), and kafkajs's grouping of a send's records by partition, which
 * copies the partition's list for every record (quadratic), stays cheap.
 */
export function chunks(records: ProducerRecord[]): ProducerRecord[][] {
  const out: ProducerRecord[][] = [];
  let chunk: ProducerRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = 70 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    if (chunk.length > 0 && (bytes + size > CHUNK_BYTES || chunk.length >= CHUNK_RECORDS)) {
      out.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(r);
    bytes += size;
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}

/** Bytes of keys and values (plus ~70 bytes of record overhead each) per produce request. */
const CHUNK_BYTES = 900 * 1024;
/** Records per produce request. */
const CHUNK_RECORDS = 500;
