/**
 * The Kafka runtime: a compiled pipeline as a consumer-group topology.
 *
 * - Application id = pipeline name = consumer group. One consumer per instance subscribes to the
 *   source topic and every repartition topic; each assigned partition is a task
 *   (`<sub-topology>_<partition>`, as in Kafka Streams) running that sub-topology's steps with
 *   its own LMDB environment under `<state-dir>/<app>/<task>`.
 * - Every store write is change-logged: a task's commit sends its outputs and its stores'
 *   changelog records (partition = the task's partition), records the changelog offsets (and
 *   the input offset they cover) beside the state in one LMDB transaction, and only then commits
 *   the input offset, with the changelog offsets it covers as the commit's metadata
 *   (at-least-once);
 *   with `guarantee: exactly-once` outputs, changelog records and input offsets go in one Kafka
 *   transaction of the task's own transactional producer (`<app>-<task>`; kafkajs has no
 *   KIP-447 fencing), and the LMDB flush follows the commit. Tasks commit after every batch and
 *   on a timer, so nothing processed is left uncommitted when a rebalance takes a partition.
 * - On assignment a task restores each store whose local checkpoint is missing, unreadable or
 *   behind its changelog, before it processes anything (its partition stays paused meanwhile).
 *   At-least-once restores only up to the changelog offsets in the committed offset's metadata:
 *   what a failed commit sent after them belongs to input that is processed again, and applying
 *   it too would count that input twice. A local state flushed by a commit whose offset commit
 *   then failed is adopted as it is (its outputs were sent): the task goes on from its offset.
 * - Event time: a source task's watermark is its partition's (highest event time − allowed
 *   lateness; idle after `idleTimeout` → advances with processing time). A task that writes into
 *   a repartition topic also writes watermark markers to each of its partitions (headers
 *   `tributary-watermark`: ms, `idle` or `end`; `tributary-task`: its id), after the events they
 *   cover; a downstream task's watermark is the minimum over its upstream tasks (idle ones left
 *   out), as Flink does across a network shuffle.
 * - Bounded runs (`bounded: true`): the end offsets of the source topic at start are the end of
 *   input; each source task ends there (watermark +∞, everything fires), the end travels on as
 *   `end` markers, and the runner stops once every task it holds has ended.
 * - Backpressure: the consumer fetches at most `maxBytesPerPartition` per partition and waits
 *   while a batch is processed; a task commits (sends and waits) every `maxPendingRecords`
 *   outputs, so memory stays bounded when outputs or state are slower than input.
 * - Failures: a task whose commit fails is dropped without flushing (its unflushed writes are
 *   discarded, its transaction aborted), its partition rewound to the last committed offset and
 *   the task opened again (restoring up to what was committed, see above); the shared
 *   idempotent producer of at-least-once is replaced after a failed send (after a broker restart
 *   kafkajs can keep failing it with OUT_OF_ORDER_SEQUENCE_NUMBER). Stop (signal) = stop
 *   fetching, let the current batch finish, commit every task, close stores, leave the group.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { TributaryEvent } from '../../event/event.js';
import { resolveKey } from '../../event/key.js';
import { createMetrics, counterValues, type PipelineMetrics } from '../../metrics/metrics.js';
import type { DerivedRecord } from '../../operator/contract.js';
import type { OperatorContext, OperatorLogic } from '../../operator/contract.js';
import type { CompiledStep, SubTopology, Topology } from '../../pipeline/compile.js';
import { CachingStoreFactory, DEFAULT_CACHE_BYTES } from '../../state/caching.js';
import { ChangeloggingStoreFactory } from '../../state/changelog.js';
import { changelogTopic, isOffset } from '../../state/changelog-codec.js';
import { needsRestore, restoreFromChangelog } from '../../state/changelog-restore.js';
import { LmdbStoreFactory } from '../../state/engines/lmdb/env.js';
import { lmdbFileProblem } from '../../state/engines/lmdb/probe.js';
import type { KeyValueStore } from '../../state/store.js';
import { systemClock, type Clock } from '../../time/clock.js';
import type { WatermarkSnapshot } from '../../time/watermark.js';
import { ProcessingError, safeJson, Task, type DeadLetterRecord, type SourceInput } from '../task.js';
import type { ConsumedBatch, ConsumedRecord, KafkaAdapter, KafkaAdmin, KafkaConsumer, KafkaProducer, ProducerRecord, SentBatch, TopicPartition } from './client.js';
import { createSourceDecoder, createStreamEncoder, type SourceDecoder, type StreamEncoder } from './codec.js';
import type { SchemaRegistryClient } from '../../serde/schema-registry.js';
import { GlobalTable } from './global-table.js';
import { ensureTopics, planTopics, storesOfSub, taskStoreName } from './topics.js';

/** Headers of a watermark marker on a repartition topic. */
export const WATERMARK_HEADER = 'tributary-watermark';
export const TASK_HEADER = 'tributary-task';
/**
 * Header of an event on a repartition topic: `<input offset>.<n>`, the upstream task's input
 * offset and the event's place among those that input produced. Processing the same input again
 * (at-least-once, after a failed commit) produces the same sequence numbers, so a downstream task
 * drops what it already has instead of counting it twice.
 */
export const SEQ_HEADER = 'tributary-seq';
/** Dead-letter headers: the reason, its detail, and the source record's topic, partition and offset. */
export const DEAD_LETTER_HEADERS = {
  reason: 'tributary-reason',
  detail: 'tributary-detail',
  topic: 'tributary-source-topic',
  partition: 'tributary-source-partition',
  offset: 'tributary-source-offset',
} as const;

export interface KafkaRunOptions {
  topology: Topology;
  adapter: KafkaAdapter;
  /** Root of the task state directories: `<stateDir>/<app>/<task>`. */
  stateDir: string;
  /** Estimated bytes of decoded state each task keeps in memory (the caching layer). Default 256 MiB. */
  cacheBytes?: number;
  /** Stop at the source's end offsets as they are at start (a replay or backfill); default: run until stopped. */
  bounded?: boolean;
  /** Aborting stops the runner gracefully (drain, commit, close, leave the group). */
  signal?: AbortSignal;
  /** Confluent schema registry for Avro sources and outputs. */
  schemaRegistry?: SchemaRegistryClient;
  clock?: Clock;
  registry?: Registry;
  /** Outputs a task may hold before it commits (backpressure bound); default 5000. */
  maxPendingRecords?: number;
  /** How often idle tasks re-evaluate their watermark and commit what fired; default 1000 ms. */
  tickMs?: number;
  /** Progress and restore lines. */
  log?: (line: string) => void;
  /** Called once the first assignment's tasks are ready. */
  onReady?: () => void;
  /** Consumer group session timeout (ms); default 30 s. A killed instance's partitions move after it. */
  sessionTimeoutMs?: number;
}

export interface KafkaRunSummary {
  pipeline: string;
  guarantee: Topology['guarantee'];
  /** Source records processed by this instance. */
  records: number;
  streams: Record<string, number>;
  deadLetters: Record<string, number>;
  late: number;
  /** Stores restored from changelogs, with the records applied. */
  restored: Array<{ task: string; store: string; records: number; ms: number; reason: string }>;
  commits: number;
  /** Events a downstream task dropped because it already had them (an upstream task processed its input again). */
  replayed: number;
  durationMs: number;
  eventsPerSecond: number;
  /** True when stopped by the signal (not at the end of a bounded run). */
  interrupted: boolean;
}

type UpstreamState = number | 'idle' | 'end';

interface TaskMeta {
  watermark?: WatermarkSnapshot;
  /** What each upstream task last reported (an `end` is kept as the number before it). */
  upstream?: Array<[string, UpstreamState]>;
  /** The last event sequence number taken from each upstream task ({@link SEQ_HEADER}). */
  seqs?: Array<[string, string]>;
}

interface PendingRecord {
  stream: string;
  record: DerivedRecord;
  key: string | undefined;
  headers?: Record<string, string>;
  /** Repartition target topic (events between sub-topologies). */
  repartition?: string;
  /** Explicit partition (watermark markers go to every partition). */
  partition?: number;
  /** A watermark marker (no value). */
  marker?: true;
  /** The input record it came from (for a dead letter when it cannot be encoded). */
  origin?: ConsumedRecord;
}

/** One task: a sub-topology over one partition. */
class KafkaTask {
  readonly id: string;
  task!: Task;
  stores!: ChangeloggingStoreFactory;
  meta!: KeyValueStore<string, TaskMeta>;
  producer: KafkaProducer | undefined;
  pending: PendingRecord[] = [];
  /** Last input offset processed and not yet committed. */
  lastOffset: string | undefined;
  /** The first input offset this task processed (committed before its first send, at-least-once). */
  firstOffset: string | undefined;
  /** The offset committed last (next to read), or undefined before the first commit here. */
  committed: string | undefined;
  upstream = new Map<string, UpstreamState>();
  ended = false;
  ready = false;
  closed = false;
  /** What this task last reported downstream. */
  reported: UpstreamState | undefined;
  /** The record in hand (for dead-letter headers and event sequence numbers). */
  current: ConsumedRecord | undefined;
  /** Events forwarded for the record in hand so far. */
  forwarded = 0;
  /** The last sequence number taken from each upstream task: [input offset, n]. */
  seqs = new Map<string, [bigint, number]>();
  /** Processing time of the last source record (idle detection before the first event). */
  lastEventAt = 0;
  /** The last numeric watermark each upstream task reported (what is persisted for `end`). */
  upstreamNumeric = new Map<string, number>();
  /** JSON of the task meta last written to its store (written again only when it changes). */
  persisted = '';
  /** The watermark snapshot from just before a bounded end (persisted instead of +∞). */
  preEnd: WatermarkSnapshot | undefined;
  /** The task's LMDB environment (under {@link stores}); holds the input offset its state covers. */
  lmdb!: LmdbStoreFactory;
  /** Each store's last changelog offset in the local state (`-1`: none): the commit metadata. */
  changelogAt = new Map<string, bigint>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly sub: SubTopology, readonly partition: number, readonly topic: string) {
    this.id = `${sub.id}_${partition}`;
  }

  /** Runs `fn` after everything queued on this task (batches, ticks, commits never interleave). */
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Runs `topology` against Kafka until `signal` aborts (or, bounded, until the end of input).
 *
 * @example
 * ```ts
 * const adapter = createKafkaJsAdapter({ brokers: ['localhost:9092'], clientId: topology.name });
 * const abort = new AbortController();
 * process.once('SIGTERM', () => abort.abort());
 * const summary = await runKafka({ topology, adapter, stateDir: 'state', signal: abort.signal });
 * ```
 */
export async function runKafka(options: KafkaRunOptions): Promise<KafkaRunSummary> {
  const runner = new KafkaRunner(options);
  return runner.run();
}

class KafkaRunner {
  private readonly topology: Topology;
  private readonly app: string;
  private readonly eos: boolean;
  private readonly clock: Clock;
  private readonly metrics: PipelineMetrics;
  private readonly log: (line: string) => void;
  private readonly tasks = new Map<string, KafkaTask>();
  /** Each stream's topic and encoder. */
  private readonly outputs = new Map<string, { topic: string; encoder: StreamEncoder }>();
  /** Key of the records on the `events` stream: the key of the last keyed sub-topology. */
  private readonly eventKey: string[] | undefined;
  private readonly decoder: SourceDecoder;
  private readonly restored: KafkaRunSummary['restored'] = [];
  private sourcePartitions = 0;
  private sourceEnd = new Map<number, bigint>();
  private admin!: KafkaAdmin;
  private consumer!: KafkaConsumer;
  private producer: Promise<KafkaProducer> | undefined;
  /** Replaced shared producers, disconnected a while later (other tasks may still be sending). */
  private readonly retired = new Set<Promise<KafkaProducer>>();
  private failure: Error | undefined;
  private stopping = false;
  private readyOnce = false;
  private commits = 0;
  private records = 0;
  private replayed = 0;
  /** Events this instance wrote to the sink (the Task's `events` count includes repartition forwards). */
  private sinkEvents = 0;
  private wake: (() => void) | undefined;
  /** The resolver sub-topology of each `global-table` step. */
  private readonly resolverOf = new Map<string, SubTopology>();
  /** The global tables of `global-table` steps, by step name (one copy per instance). */
  private readonly globalTables = new Map<string, GlobalTable>();
  /** Consecutive failures of each task (topic/partition) at one committed offset. */
  private readonly failures = new Map<string, { at: string | undefined; streak: number }>();
  /** Tasks being closed after a revocation (awaited before the run returns). */
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly options: KafkaRunOptions) {
    this.topology = options.topology;
    this.app = options.topology.name;
    this.eos = options.topology.guarantee === 'exactly-once';
    this.clock = options.clock ?? systemClock;
    this.metrics = createMetrics(options.registry ?? new Registry());
    this.log = options.log ?? (() => undefined);
    this.decoder = createSourceDecoder({
      format: this.topology.source.format === 'avro' ? 'avro' : 'json',
      maxRecordBytes: this.topology.source.maxRecordBytes,
      ...(options.schemaRegistry ? { registry: options.schemaRegistry } : {}),
    });
    for (const stream of this.topology.streams) {
      const encoder = createStreamEncoder({ stream, ...(options.schemaRegistry ? { registry: options.schemaRegistry } : {}) });
      this.outputs.set(stream.name, { topic: stream.topic, encoder });
    }
    this.eventKey = this.topology.subTopologies.findLast((s) => s.key !== undefined)?.key;
    for (const sub of this.topology.subTopologies) if (sub.resolver) this.resolverOf.set(sub.resolver, sub);
  }

  private partitionsOf(sub: SubTopology): number {
    return sub.partitions === 1 ? 1 : this.sourcePartitions;
  }

  async run(): Promise<KafkaRunSummary> {
    const started = performance.now();
    const { topology, options } = this;
    const sourceTopic = topology.source.topic;
    if (!sourceTopic) throw new Error(`pipeline ${this.app}: source.topic is required to run against Kafka`);
    const { adapter } = options;
    this.admin = await adapter.admin();
    try {
      const [described] = await this.admin.describeTopics([sourceTopic]);
      if (!described) throw new Error(`pipeline ${this.app}: source topic ${sourceTopic} does not exist`);
      this.sourcePartitions = described.partitions.length;
      const plan = planTopics(topology, this.sourcePartitions);
      const { created } = await ensureTopics(adapter, plan);
      if (created.length > 0) this.log(`created topics: ${created.join(', ')}`);
      if (options.bounded) {
        for (const w of await this.admin.endOffsets(sourceTopic)) this.sourceEnd.set(w.partition, BigInt(w.high));
      }
      if (!this.eos) await this.sharedProducer();
      for (const step of topology.steps) {
        const halves = step.definition.globalTable;
        if (!halves || !topology.subTopologies.some((s) => s.lookups?.includes(step.name))) continue;
        const table = new GlobalTable({
          adapter, admin: this.admin, app: this.app, name: step.name, stateDir: options.stateDir, log: this.log,
          stores: halves.stores(step.config as never).map((store) => `${step.name}.${store}`),
          onError: (error) => this.fail(error),
        });
        this.globalTables.set(step.name, table);
        await table.open();
      }
      this.consumer = await adapter.consumer({
        groupId: this.app,
        readCommitted: true,
        sessionTimeout: options.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: Math.min(3000, Math.floor((options.sessionTimeoutMs ?? 30_000) / 3)),
        maxWaitTimeInMs: 200,
      });
      this.consumer.onAssign((tps) => this.assign(tps));
      this.consumer.onRevoke((tps) => this.revoke(tps));
      this.consumer.onCrash((error) => this.fail(error));
      const inputs = [sourceTopic, ...topology.subTopologies.filter((s) => s.input !== 'source').map((s) => s.input)];
      await this.consumer.subscribe(inputs, { fromBeginning: true });
      await this.consumer.run({ eachBatch: (batch) => this.onBatch(batch) });

      const tick = setInterval(() => void this.tick(), options.tickMs ?? 1000);
      const onAbort = () => {
        this.stopping = true;
        this.wake?.();
      };
      options.signal?.addEventListener('abort', onAbort);
      if (options.signal?.aborted) onAbort();
      try {
        while (!this.stopping && !this.failure && !this.boundedDone()) {
          await new Promise<void>((ok) => {
            this.wake = ok;
            setTimeout(ok, 200).unref();
          });
        }
      } finally {
        clearInterval(tick);
        options.signal?.removeEventListener('abort', onAbort);
      }
      // Graceful stop: let the batch in hand finish, commit every task, leave the group.
      this.stopping = true;
      if (!this.failure) {
        for (const t of this.tasks.values()) {
          await t.lock(async () => {
            if (t.ready && !t.closed) await this.commit(t);
          }).catch((e: unknown) => this.log(`task ${t.id}: final commit failed: ${String(e)}`));
        }
      }
      await this.consumer.disconnect().catch(() => undefined);
      for (const t of [...this.tasks.values()]) await t.lock(() => this.closeTask(t, false));
      await Promise.all([...this.closing]);
      await this.producer?.then((p) => p.disconnect()).catch(() => undefined);
      await Promise.all([...this.retired].map((p) => this.disconnectRetired(p)));
    } finally {
      for (const table of this.globalTables.values()) await table.close().catch((e: unknown) => this.log(`closing a global table failed: ${String(e)}`));
      await this.admin.disconnect().catch(() => undefined);
    }
    if (this.failure) throw this.failure;
    const durationMs = performance.now() - started;
    return {
      pipeline: this.app,
      guarantee: topology.guarantee,
      records: this.records,
      ...(await this.counts()),
      restored: this.restored,
      commits: this.commits,
      replayed: this.replayed,
      durationMs,
      eventsPerSecond: this.records / Math.max(durationMs / 1000, 1e-9),
      interrupted: !this.boundedDone(),
    };
  }

  private async counts() {
    const streams: Record<string, number> = {};
    for (const s of this.topology.streams) streams[s.name] = 0;
    for (const v of await counterValues(this.metrics.streamRecords)) if (streams[String(v.labels.stream)] !== undefined) streams[String(v.labels.stream)] = v.value;
    streams.events = this.sinkEvents;
    const deadLetters: Record<string, number> = {};
    for (const d of await counterValues(this.metrics.deadLetters)) deadLetters[String(d.labels.reason)] = d.value;
    const late = (await counterValues(this.metrics.lateRecords)).reduce((a, v) => a + v.value, 0);
    return { streams, deadLetters, late };
  }

  private fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error : new Error(String(error));
    this.wake?.();
  }

  /** Bounded: everything this instance holds has ended (and it holds something, or the group has nothing for it). */
  private boundedDone(): boolean {
    if (!this.options.bounded || !this.readyOnce) return false;
    for (const t of this.tasks.values()) if (!t.ended || !t.ready || t.pending.length > 0 || t.lastOffset !== undefined) return false;
    return true;
  }

  private subOf(topic: string): SubTopology | undefined {
    return this.topology.subTopologies.find((s) => (s.input === 'source' ? this.topology.source.topic === topic : s.input === topic));
  }

  // ---- assignment ---------------------------------------------------------------------------

  private assign(tps: TopicPartition[]): void {
    // Paused until restored; kafkajs runs GROUP_JOIN listeners before the first fetch.
    this.consumer.pause(tps);
    const opening: Array<Promise<void>> = [];
    for (const tp of tps) {
      const sub = this.subOf(tp.topic);
      if (!sub) continue;
      const task = new KafkaTask(sub, tp.partition, tp.topic);
      const existing = this.tasks.get(tpKey(tp.topic, tp.partition));
      if (existing && !existing.closed) continue;
      this.tasks.set(tpKey(tp.topic, tp.partition), task);
      opening.push(task.lock(() => this.openTask(task)).then(
        () => {
          if (!task.closed) this.consumer.resume([tp]);
        },
        (error: unknown) => this.fail(new Error(`task ${task.id}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })),
      ));
    }
    void Promise.all(opening).then(() => {
      if (!this.readyOnce) {
        this.readyOnce = true;
        this.options.onReady?.();
      }
    });
  }

  private revoke(tps: TopicPartition[]): void {
    for (const tp of tps) {
      const task = this.tasks.get(tpKey(tp.topic, tp.partition));
      if (!task) continue;
      this.tasks.delete(tpKey(tp.topic, tp.partition));
      // Committed after every batch: nothing processed is lost. Close without flushing.
      const closing = task.lock(() => this.closeTask(task, false)).catch((e: unknown) => this.log(`task ${task.id}: close failed: ${String(e)}`));
      this.closing.add(closing);
      void closing.finally(() => this.closing.delete(closing));
      if (!this.stopping) this.consumer.resume([tp]); // kafkajs keeps pause state across moves
    }
  }

  private storesOf(sub: SubTopology): string[] {
    return storesOfSub(this.topology, sub);
  }

  /** The sub-topologies that read what `sub` writes (events and watermark markers). */
  private downstreamOf(sub: SubTopology): SubTopology[] {
    return this.topology.subTopologies.filter((d) => d.upstream.includes(sub.id));
  }

  /** The logic of a step run as a global-table lookup or resolver (else undefined: the operator's own). */
  private logicFor(sub: SubTopology, t: KafkaTask, step: CompiledStep, ctx: OperatorContext): OperatorLogic | undefined {
    const halves = step.definition.globalTable;
    if (!halves) return undefined;
    if (sub.resolver === step.name) return halves.resolver(step.config as never, ctx);
    if (!sub.lookups?.includes(step.name)) return undefined;
    const table = this.globalTables.get(step.name);
    if (!table) throw new Error(`internal: no global table for ${step.name}`);
    return halves.lookup(step.config as never, (store) => table.store(`${step.name}.${store}`), (event) => this.toResolver(t, step.name, event));
  }

  /** An event a lookup could not settle, to the step's resolver task. */
  private toResolver(t: KafkaTask, step: string, event: TributaryEvent): void {
    const resolver = this.resolverOf.get(step) as SubTopology;
    const seq = t.current ? `${t.current.offset}.${t.forwarded++}` : undefined;
    t.pending.push({ stream: 'events', record: event, key: event.messageId, repartition: resolver.input, ...(seq ? { headers: { [TASK_HEADER]: t.id, [SEQ_HEADER]: seq } } : {}) });
  }

  private async openTask(t: KafkaTask): Promise<void> {
    const started = performance.now();
    const dir = resolve(join(this.options.stateDir, this.app, t.id));
    const storeNames = this.storesOf(t.sub);
    const maxDbs = storeNames.length * 4 + 8;
    let lmdb: LmdbStoreFactory;
    try {
      // lmdb-js crashes the process (SIGSEGV) on a data file whose meta pages are garbage:
      // check LMDB's magic number before opening.
      const problem = lmdbFileProblem(join(dir, 'data.mdb'));
      if (problem) throw new Error(problem);
      lmdb = new LmdbStoreFactory({ path: dir, maxDbs });
    } catch (error) {
      this.log(`task ${t.id}: local state at ${dir} unusable (${String(error)}); rebuilding it from the changelogs`);
      rmSync(dir, { recursive: true, force: true });
      lmdb = new LmdbStoreFactory({ path: dir, maxDbs });
    }
    t.lmdb = lmdb;
    t.stores = new ChangeloggingStoreFactory(lmdb);
    // One metadata round trip for all the task's changelogs, not one after the other.
    const [ends, committedOffsets] = await Promise.all([
      Promise.all(storeNames.map(async (store) => (await this.admin.endOffsets(changelogTopic(this.app, store))).find((w) => w.partition === t.partition))),
      this.admin.fetchOffsets(this.app, t.topic),
    ]);
    const committed = committedOffsets.find((o) => o.partition === t.partition);
    t.committed = committed && committed.offset !== '-1' ? committed.offset : undefined;
    // At-least-once: the changelog offsets the committed input offset covers (commit metadata).
    const covered = this.eos ? undefined : parseCommitMetadata(committed?.metadata);
    const local = this.eos ? undefined : localInputOffset(lmdb, t);
    if (local !== undefined && (t.committed === undefined || BigInt(local) > BigInt(t.committed)) && this.stateIsWhole(t, storeNames, ends)) {
      // The state was flushed by a commit whose offset commit failed: its outputs and changelog
      // records were sent, so it stands; go on from its offset (committed at the next commit).
      this.log(`task ${t.id}: local state covers input up to offset ${local}, past the committed ${t.committed ?? 'none'} (an offset commit failed); going on from it`);
      t.committed = local;
      t.lastOffset = (BigInt(local) - 1n).toString();
    } else {
      // Restore every store that is missing, unreadable or behind what was committed.
      for (const [i, store] of storeNames.entries()) {
        const topic = changelogTopic(this.app, store);
        const end = ends[i];
        if (!end) throw new Error(`changelog ${topic} has no partition ${t.partition}`);
        const decision = needsRestore(t.stores, store, t.partition, end.high, covered ? (covered[store] ?? -1) : undefined);
        if (!decision.restore) continue;
        await this.restoreStore(t, store, topic, decision);
      }
    }
    for (const store of storeNames) {
      const cp = t.stores.changelogCheckpoint(store, t.partition);
      t.changelogAt.set(store, typeof cp === 'string' ? BigInt(cp) : -1n);
    }
    const sub = t.sub;
    const topology: Topology = { ...this.topology, steps: this.topology.steps.filter((s) => sub.steps.includes(s.name)) };
    t.task = new Task({
      topology, stores: new CachingStoreFactory(t.stores, { maxBytes: this.options.cacheBytes ?? DEFAULT_CACHE_BYTES }), clock: this.clock, metrics: this.metrics, output: (stream, record) => this.output(t, stream, record),
      createLogic: (step, ctx) => this.logicFor(sub, t, step, ctx),
    });
    t.meta = t.stores.open<string, TaskMeta>(taskStoreName(sub.id));
    const meta = t.meta.get('state') ?? {};
    t.persisted = JSON.stringify(meta);
    if (meta.watermark) t.task.restore(meta.watermark);
    else if (sub.input === 'source') t.task.watermarks.addPartition(String(t.partition));
    if (sub.input !== 'source') {
      for (const u of sub.upstream) {
        const upstreamSub = this.topology.subTopologies[u] as SubTopology;
        for (let p = 0; p < this.partitionsOf(upstreamSub); p++) t.upstream.set(`${upstreamSub.id}_${p}`, -Infinity);
      }
      for (const [id, state] of meta.upstream ?? []) {
        t.upstream.set(id, state ?? -Infinity);
        if (typeof state === 'number') t.upstreamNumeric.set(id, state);
      }
      for (const [id, seq] of meta.seqs ?? []) {
        const [offset, n] = seq.split('.');
        t.seqs.set(id, [BigInt(offset ?? '0'), Number(n ?? '0')]);
      }
    }
    t.lastEventAt = this.clock.now();
    if (this.eos) t.producer = await this.options.adapter.producer({ transactionalId: `${this.app}-${t.id}` });
    t.ready = true;
    this.log(`task ${t.id}: ready on ${t.topic}/${t.partition}${t.committed ? ` from offset ${t.committed}` : ''} in ${Math.round(performance.now() - started)} ms`);
    if (this.options.bounded && sub.input === 'source') {
      const end = this.sourceEnd.get(t.partition) ?? 0n;
      if (BigInt(t.committed ?? '0') >= end) this.endTask(t);
    }
    this.reportWatermark(t, true);
  }

  private async restoreStore(t: KafkaTask, store: string, topic: string, decision: Extract<ReturnType<typeof needsRestore>, { restore: true }>): Promise<void> {
    const { upTo } = decision;
    this.log(`task ${t.id}: restoring ${store} from ${topic}/${t.partition} (${decision.reason}${decision.wipe ? `: ${decision.detail}` : ''}), offsets ${decision.from}..${upTo}`);
    const result = await restoreFromChangelog({
      records: BigInt(upTo) < 0n ? [] : this.options.adapter.readPartition(topic, t.partition, { from: decision.from, upTo, readCommitted: true }),
      factory: t.stores,
      store,
      partition: t.partition,
      upTo,
      wipe: decision.wipe,
      onProgress: (p) => {
        if (!p.done) this.log(`task ${t.id}: restoring ${store}: ${p.applied} records, offset ${p.offset}/${p.upTo}, ${Math.round(p.elapsedMs)} ms`);
      },
    });
    this.log(`task ${t.id}: restored ${store}: ${result.applied} records (${result.puts} puts, ${result.deletes} deletes) in ${Math.round(result.elapsedMs)} ms`);
    this.restored.push({ task: t.id, store, records: result.applied, ms: Math.round(result.elapsedMs), reason: decision.reason });
  }

  /** Every store has a checkpoint within its changelog: the local state is one whole flush. */
  private stateIsWhole(t: KafkaTask, stores: string[], ends: Array<{ high: string } | undefined>): boolean {
    return stores.every((store, i) => {
      try {
        const cp = t.stores.changelogCheckpoint(store, t.partition);
        const end = ends[i];
        if (cp === undefined || cp === null) return end !== undefined && end.high === '0';
        return isOffset(cp) && end !== undefined && BigInt(cp) < BigInt(end.high);
      } catch {
        return false;
      }
    });
  }

  private async closeTask(t: KafkaTask, flush: boolean): Promise<void> {
    if (t.closed) return;
    t.closed = true;
    try {
      if (flush) {
        t.task?.prepareCommit();
        await t.stores.flush();
      }
      await t.stores?.close();
    } finally {
      await t.producer?.disconnect().catch(() => undefined);
    }
  }

  // ---- processing ---------------------------------------------------------------------------

  private async onBatch(batch: ConsumedBatch): Promise<void> {
    const t = this.tasks.get(tpKey(batch.topic, batch.partition));
    if (!t || !t.ready || t.closed) {
      batch.pause(); // not ready (restoring): resumes from the first unresolved record
      return;
    }
    await t.lock(async () => {
      if (t.closed) return;
      const max = this.options.maxPendingRecords ?? 5000;
      try {
        for (const record of batch.records) {
          if (!batch.isRunning() || batch.isStale()) break;
          if (t.committed !== undefined && BigInt(record.offset) < BigInt(t.committed)) continue;
          const waiting = this.process(t, record);
          if (waiting) await waiting;
          t.firstOffset ??= record.offset;
          t.lastOffset = record.offset;
          if (t.pending.length >= max) {
            await this.commit(t);
            batch.resolveOffset(record.offset);
            await batch.heartbeat().catch(() => undefined);
          }
        }
        await this.commit(t);
      } catch (error) {
        // `onProcessingError: fail`: stop without committing past the record.
        if (error instanceof ProcessingError) this.fail(error);
        else await this.recover(t, error);
      }
    });
    // Everything below the committed offset is done (processed now, or skipped as replayed).
    if (t.committed !== undefined) {
      const next = BigInt(t.committed) - 1n;
      if (next >= 0n) batch.resolveOffset(next.toString());
    }
  }

  /** Processes one record; returns a promise only when decoding had to wait (a registry lookup). */
  private process(t: KafkaTask, record: ConsumedRecord): void | Promise<void> {
    t.current = record;
    t.forwarded = 0;
    const where = `${record.topic}/${record.partition}/${record.offset}`;
    if (t.sub.input === 'source') {
      if (t.ended) return; // bounded: past the end of input (records produced after the start)
      this.records++;
      t.lastEventAt = this.clock.now();
      const decoded = this.decoder.decode(record.value, where);
      if (decoded instanceof Promise) return decoded.then((d) => this.ingest(t, record, d));
      this.ingest(t, record, decoded);
      return;
    }
    const mark = record.headers[WATERMARK_HEADER];
    if (mark !== undefined) {
      const from = record.headers[TASK_HEADER]?.toString() ?? '?';
      const v = mark.toString();
      const state: UpstreamState = v === 'idle' || v === 'end' ? v : Number(v);
      t.upstream.set(from, state);
      if (typeof state === 'number') t.upstreamNumeric.set(from, state);
      this.applyUpstream(t);
      return;
    }
    const seqHeader = record.headers[SEQ_HEADER];
    if (seqHeader !== undefined) {
      const from = record.headers[TASK_HEADER]?.toString() ?? '?';
      const [offset, n] = seqHeader.toString().split('.');
      const seq: [bigint, number] = [BigInt(offset ?? '0'), Number(n ?? '0')];
      const last = t.seqs.get(from);
      if (last && (seq[0] < last[0] || (seq[0] === last[0] && seq[1] <= last[1]))) {
        this.replayed++;
        return; // an upstream task processed its input again: this event is already in
      }
      t.seqs.set(from, seq);
    }
    let event: TributaryEvent;
    try {
      event = JSON.parse(record.value?.toString() ?? 'null') as TributaryEvent;
      if (event === null || typeof event !== 'object' || typeof event.timestamp !== 'number') throw new Error('not an event');
    } catch (error) {
      t.task.deadLetter({ reason: 'malformed-json', detail: `repartitioned record: ${String(error)}`, raw: record.value?.toString('base64') ?? '', source: where });
      return;
    }
    t.task.pipeForwarded(event, { raw: record.value?.toString() ?? '', source: where });
  }

  private ingest(t: KafkaTask, record: ConsumedRecord, decoded: SourceInput): void {
    t.task.ingest({ ...decoded, partition: String(t.partition) });
    if (this.options.bounded) {
      const end = this.sourceEnd.get(t.partition) ?? 0n;
      if (BigInt(record.offset) + 1n >= end) this.endTask(t);
    }
  }

  /** A downstream task's watermark from its upstream tasks' reports. */
  private applyUpstream(t: KafkaTask): void {
    let min = Infinity;
    let active = 0;
    let ended = 0;
    for (const state of t.upstream.values()) {
      if (state === 'end') {
        ended++;
        continue;
      }
      if (state === 'idle') continue;
      active++;
      if (state < min) min = state;
    }
    if (ended === t.upstream.size) {
      if (!t.ended) this.endTask(t);
      return;
    }
    if (active > 0 && Number.isFinite(min)) t.task.advanceWatermark(min);
  }

  private endTask(t: KafkaTask): void {
    t.preEnd = t.task.snapshot();
    t.ended = true;
    t.task.endOfInput();
  }

  /** What a task tells the tasks downstream of it: its watermark, `idle` or `end`. */
  private watermarkOf(t: KafkaTask): UpstreamState {
    if (t.ended) return 'end';
    const wm = t.task.watermarks.current();
    if (t.sub.input !== 'source') {
      const states = [...t.upstream.values()];
      if (states.every((s) => s === 'idle' || s === 'end')) return 'idle';
      return wm;
    }
    if (wm === -Infinity) {
      // No event yet: idle once the partition has been silent for idleTimeout.
      return this.clock.now() - t.lastEventAt >= this.topology.source.idleTimeoutMs ? 'idle' : -Infinity;
    }
    return wm;
  }

  /** Queues watermark markers for the next sub-topology when what this task reports changed. */
  private reportWatermark(t: KafkaTask, force = false): void {
    const downstream = this.downstreamOf(t.sub);
    if (downstream.length === 0) return;
    const state = this.watermarkOf(t);
    if (state === -Infinity) return;
    if (!force && state === t.reported) return;
    t.reported = state;
    const value = typeof state === 'number' ? String(state) : state;
    for (const next of downstream) {
      for (let p = 0; p < this.partitionsOf(next); p++) {
        t.pending.push({ stream: '', record: {}, key: undefined, repartition: next.input, headers: { [WATERMARK_HEADER]: value, [TASK_HEADER]: t.id }, partition: p, marker: true });
      }
    }
  }

  private output(t: KafkaTask, stream: string, record: DerivedRecord): void {
    if (stream === 'events') {
      const next = t.sub.next === undefined ? undefined : this.topology.subTopologies[t.sub.next];
      if (next) {
        const key = next.key ? resolveKey(record as TributaryEvent, next.key) : (record as TributaryEvent).messageId;
        if (key === undefined) {
          t.task.deadLetter({
            reason: 'missing-key',
            detail: `no ${next.key?.join(' or ')} to repartition by for ${next.steps[0] ?? 'the next step'}`,
            raw: JSON.stringify(record),
            source: t.current ? `${t.current.topic}/${t.current.partition}/${t.current.offset}` : t.id,
          });
          return;
        }
        const seq = t.current ? `${t.current.offset}.${t.forwarded++}` : undefined;
        t.pending.push({ stream, record, key, repartition: next.input, ...(seq ? { headers: { [TASK_HEADER]: t.id, [SEQ_HEADER]: seq } } : {}) });
        return;
      }
    }
    if (stream === 'events') this.sinkEvents++;
    const r = record as Record<string, unknown>;
    const keyFields = stream === 'events' ? this.eventKey : undefined;
    const key = keyFields ? resolveKey(record as TributaryEvent, keyFields) : firstString(r.key, r.personId, r.messageId);
    if (stream === 'dead-letter') {
      t.pending.push(this.deadLetterPending(record as DeadLetterRecord, t.current));
      return;
    }
    t.pending.push({ stream, record, key, origin: t.current });
  }

  /** A dead letter with its headers: reason, detail, and the input record's topic/partition/offset. */
  private deadLetterPending(dl: DeadLetterRecord, c: ConsumedRecord | undefined): PendingRecord {
    return {
      stream: 'dead-letter',
      record: dl,
      key: firstString(dl.key, dl.personId, dl.messageId),
      headers: {
        [DEAD_LETTER_HEADERS.reason]: dl.reason,
        [DEAD_LETTER_HEADERS.detail]: dl.detail.slice(0, 1000),
        ...(c ? { [DEAD_LETTER_HEADERS.topic]: c.topic, [DEAD_LETTER_HEADERS.partition]: String(c.partition), [DEAD_LETTER_HEADERS.offset]: c.offset } : {}),
      },
    };
  }

  // ---- commits ------------------------------------------------------------------------------

  /** Sends outputs and changelogs, flushes state, commits the input offset: one task's checkpoint. */
  private async commit(t: KafkaTask): Promise<void> {
    if (t.closed) return;
    this.reportWatermark(t);
    // The end of a bounded run is the run's, not the state's: what is kept is the event time
    // reached before it, so a later run (bounded or not) goes on from there.
    const meta: TaskMeta = {
      watermark: t.ended && t.preEnd ? t.preEnd : t.task.snapshot(),
      ...(t.upstream.size > 0
        ? { upstream: [...t.upstream].map(([id, s]): [string, UpstreamState] => [id, s === 'end' ? (t.upstreamNumeric.get(id) ?? -Infinity) : s]) }
        : {}),
      ...(t.seqs.size > 0 ? { seqs: [...t.seqs].map(([id, [o, n]]): [string, string] => [id, `${o}.${n}`]) } : {}),
    };
    const text = JSON.stringify(meta);
    if (text !== t.persisted) {
      t.meta.put('state', meta);
      t.persisted = text;
    }
    // The state changed since the last commit, each key once: the changelog batch and the LMDB flush.
    t.task.prepareCommit();
    const changes = t.stores.drainChanges();
    if (t.pending.length === 0 && changes.length === 0 && t.lastOffset === undefined) return;
    const t0 = performance.now();
    const records: ProducerRecord[] = [];
    for (const p of t.pending) records.push(await this.encodeOrDeadLetter(t, p));
    const changelogCounts = new Map<string, { store: string; count: number }>();
    for (const { store, records: changed } of changes) {
      const topic = changelogTopic(this.app, store);
      changelogCounts.set(topic, { store, count: changed.length });
      for (const c of changed) records.push({ topic, key: c.key, value: c.value, partition: t.partition });
    }
    const next = t.lastOffset === undefined ? undefined : (BigInt(t.lastOffset) + 1n).toString();
    // Changelog offsets: per chunk sent, the base offset of its records of a changelog + their count − 1.
    const lastByTopic = new Map<string, bigint>();
    const sendAll = async (send: (chunk: ProducerRecord[]) => Promise<SentBatch[]>) => {
      for (const chunk of chunks(records)) {
        const sent = await send(chunk);
        const countIn = new Map<string, number>();
        for (const r of chunk) if (changelogCounts.has(r.topic)) countIn.set(r.topic, (countIn.get(r.topic) ?? 0) + 1);
        for (const [topic, n] of countIn) {
          const s = sent.find((b) => b.topic === topic && b.partition === t.partition);
          if (!s) throw new Error(`no produce acknowledgement for ${topic}/${t.partition}`);
          lastByTopic.set(topic, BigInt(s.baseOffset) + BigInt(n - 1));
        }
      }
    };
    if (this.eos) {
      const producer = t.producer as KafkaProducer;
      const tx = await producer.transaction();
      try {
        await sendAll((chunk) => tx.send(chunk));
        if (next !== undefined) await tx.sendOffsets({ groupId: this.app, offsets: [{ topic: t.topic, partition: t.partition, offset: next }] });
        await tx.commit();
      } catch (error) {
        await tx.abort().catch(() => undefined);
        throw error;
      }
    } else {
      if (t.committed === undefined && t.firstOffset !== undefined) {
        // The group has no offset for this partition yet, so a restore could not tell this
        // commit's changelog records from committed ones: commit where the task started first.
        await this.consumer.commit([{ topic: t.topic, partition: t.partition, offset: t.firstOffset, metadata: commitMetadata(t.changelogAt) }]);
        t.committed = t.firstOffset;
      }
      const shared = this.sharedProducer();
      const producer = await shared;
      try {
        await sendAll((chunk) => producer.send(chunk));
      } catch (error) {
        this.retireProducer(shared);
        throw error;
      }
    }
    for (const [topic, last] of lastByTopic) {
      const store = (changelogCounts.get(topic) as { store: string }).store;
      t.stores.recordChangelogOffsets(store, t.partition, last);
      t.changelogAt.set(store, last);
    }
    // At-least-once: the input offset the flushed state covers, and then the offset commit with
    // the changelog offsets it covers (what a restore may apply; see openTask).
    const covers = next ?? t.committed;
    if (!this.eos && covers !== undefined) t.lmdb.putMeta(INPUT_META, { topic: t.topic, partition: t.partition, offset: covers });
    await t.stores.flush();
    if (!this.eos && covers !== undefined && (next !== undefined || changes.length > 0)) {
      await this.consumer.commit([{ topic: t.topic, partition: t.partition, offset: covers, metadata: commitMetadata(t.changelogAt) }]);
    }
    if (next !== undefined) t.committed = next;
    t.pending = [];
    t.lastOffset = undefined;
    this.commits++;
    this.metrics.commits.inc({ pipeline: this.app });
    this.metrics.commitLatency.observe({ pipeline: this.app }, (performance.now() - t0) / 1000);
  }

  /** The idempotent producer at-least-once tasks share (created again after {@link retireProducer}). */
  private sharedProducer(): Promise<KafkaProducer> {
    // One creation at a time: tasks committing together after a replacement share the new one.
    if (!this.producer) {
      const created = this.options.adapter.producer({ idempotent: true });
      this.producer = created;
      created.catch(() => {
        if (this.producer === created) this.producer = undefined; // try again at the next commit
      });
    }
    return this.producer;
  }

  /**
   * A send failed: later commits use a new producer (a producer whose sequence numbers the
   * broker lost track of keeps failing). The old one is disconnected 30 s later, when the sends
   * other tasks have in flight on it are over, or when the run ends.
   */
  private retireProducer(producer: Promise<KafkaProducer>): void {
    if (this.producer !== producer) return;
    this.producer = undefined;
    this.retired.add(producer);
    setTimeout(() => void this.disconnectRetired(producer), 30_000).unref();
  }

  private async disconnectRetired(producer: Promise<KafkaProducer>): Promise<void> {
    if (!this.retired.delete(producer)) return;
    await producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  /**
   * Encodes a pending record; one that cannot be encoded (a value its stream's Avro schema does
   * not allow, JSON nested too deep) goes to `dead-letter` instead, with reason
   * `processing-error`, so that it cannot fail every commit of its task.
   */
  private async encodeOrDeadLetter(t: KafkaTask, p: PendingRecord): Promise<ProducerRecord> {
    try {
      return await this.encode(p);
    } catch (error) {
      if (p.stream === 'dead-letter' || p.marker) throw error;
      const c = p.origin;
      const where = p.repartition ? `repartition topic ${p.repartition}` : `stream ${p.stream} (topic ${this.outputs.get(p.stream)?.topic ?? '?'})`;
      const dl: DeadLetterRecord = {
        reason: 'processing-error',
        detail: `a record for ${where} could not be encoded: ${error instanceof Error ? error.message : String(error)}`,
        raw: safeJson(p.record),
        source: c ? `${c.topic}/${c.partition}/${c.offset}` : t.id,
      };
      this.metrics.deadLetters.inc({ pipeline: this.app, reason: dl.reason });
      this.metrics.streamRecords.inc({ pipeline: this.app, stream: 'dead-letter' });
      return this.encode(this.deadLetterPending(dl, c));
    }
  }

  private async encode(p: PendingRecord): Promise<ProducerRecord> {
    const key = p.key === undefined ? null : Buffer.from(p.key);
    if (p.repartition) {
      return {
        topic: p.repartition,
        key,
        value: p.marker ? null : Buffer.from(JSON.stringify(p.record)),
        ...(p.headers ? { headers: p.headers } : {}),
        ...(p.partition === undefined ? {} : { partition: p.partition }),
      };
    }
    const out = this.outputs.get(p.stream);
    if (!out) throw new Error(`internal: unknown stream ${p.stream}`);
    const value = await out.encoder.encode(p.record);
    return { topic: out.topic, key, value, ...(p.headers ? { headers: p.headers } : {}) };
  }

  /** A task's commit failed: discard its uncommitted work and open it again from what is committed. */
  private async recover(t: KafkaTask, error: unknown): Promise<void> {
    if (this.stopping) {
      this.fail(error);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    // Bounded: a task that fails again and again at the same offset stops the run with the error
    // (a record cannot do this: processing errors are dead letters; the broker or the disk can).
    const key = tpKey(t.topic, t.partition);
    const last = this.failures.get(key);
    const streak = last && last.at === t.committed ? last.streak + 1 : 1;
    this.failures.set(key, { at: t.committed, streak });
    if (streak > MAX_RECOVERIES) {
      this.fail(new Error(`task ${t.id}: failed ${streak} times in a row at input offset ${t.committed ?? 'none'} (${message}); check that the brokers are up and the topics writable, then run again`, { cause: error }));
      return;
    }
    this.log(`task ${t.id}: commit failed (${message}); reopening it from the last commit (attempt ${streak} of ${MAX_RECOVERIES})`);
    await this.closeTask(t, false);
    if (this.tasks.get(key) !== t) return; // revoked meanwhile
    const fresh = new KafkaTask(t.sub, t.partition, t.topic);
    this.tasks.set(key, fresh);
    this.consumer.pause([{ topic: t.topic, partition: t.partition }]);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.openTask(fresh);
        break;
      } catch (e) {
        if (attempt >= 10 || this.stopping) {
          this.fail(e);
          return;
        }
        await sleep(Math.min(10_000, 500 * attempt));
      }
    }
    if (fresh.committed !== undefined) this.consumer.seek({ topic: t.topic, partition: t.partition, offset: fresh.committed });
    this.consumer.resume([{ topic: t.topic, partition: t.partition }]);
  }

  /** Timer: idle watermarks advance, timers fire, bounded ends are noticed, markers flow. */
  private async tick(): Promise<void> {
    if (this.stopping || this.failure) return;
    for (const t of [...this.tasks.values()]) {
      if (!t.ready || t.closed) continue;
      await t.lock(async () => {
        if (t.closed || this.stopping) return;
        try {
          if (t.sub.input === 'source') t.task.advance();
          else this.applyUpstream(t);
          await this.commit(t);
        } catch (error) {
          if (error instanceof ProcessingError) this.fail(error);
          else await this.recover(t, error);
        }
      });
    }
  }
}

/** Recoveries of one task at the same committed offset before the run stops with the error. */
const MAX_RECOVERIES = 5;

/** Meta key of the input offset a task's flushed state covers (at-least-once). */
const INPUT_META = 'tributary/input';

/** The input offset a task's local state covers, or undefined (none, or another partition's). */
function localInputOffset(lmdb: LmdbStoreFactory, t: KafkaTask): string | undefined {
  try {
    const v = lmdb.getMeta<{ topic?: unknown; partition?: unknown; offset?: unknown }>(INPUT_META);
    if (v && v.topic === t.topic && v.partition === t.partition && isOffset(v.offset)) return v.offset;
  } catch {
    // unreadable: restore instead
  }
  return undefined;
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

/** Sends of at most 500 records, so no produce request exceeds the broker's message size. */
function chunks<T>(items: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function firstString(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === 'string' && v.length > 0) return v;
  return undefined;
}

/** The summary as `tributary run --brokers` prints it. */
export function formatKafkaSummary(s: KafkaRunSummary): string {
  const lines = [
    `${s.interrupted ? 'stopped' : 'done'}: pipeline ${s.pipeline} (${s.guarantee}), ${s.records} source records in ${(s.durationMs / 1000).toFixed(2)}s (${Math.round(s.eventsPerSecond)} events/s), ${s.commits} commits`,
  ];
  const dl = Object.entries(s.deadLetters).map(([k, v]) => `${k} ${v}`);
  lines.push(`  dead letters: ${dl.length ? dl.join(', ') : 0}; late: ${s.late}${s.replayed ? `; replayed events dropped: ${s.replayed}` : ''}`);
  for (const r of s.restored) lines.push(`  restored ${r.store} of task ${r.task}: ${r.records} records in ${r.ms} ms (${r.reason})`);
  lines.push('  records written by this instance:');
  for (const [stream, n] of Object.entries(s.streams)) lines.push(`    ${stream}  ${n}`);
  return lines.join('\n');
}
