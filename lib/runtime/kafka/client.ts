/**
 * The Kafka client behind one small adapter (issue 5): what the Kafka runner needs from a client
 * and nothing more — admin for internal topics and offsets, a (transactional) producer, and a
 * group consumer that hands over batches per partition with pause/resume and assignment
 * callbacks. `createKafkaJsAdapter` is the default implementation on kafkajs 2.2.x.
 *
 * kafkajs behaviours this layer pins down (each cost someone an afternoon):
 * - Metadata requests auto-create topics when `allowAutoTopicCreation` is true (the kafkajs
 *   default for producers and consumers): both are created with it off, so a missing output or
 *   internal topic is an error instead of a one-partition topic with default configs.
 * - `eachBatchAutoResolve` (default true) marks the whole batch consumed when `eachBatch`
 *   returns, and `autoCommit` commits in the background: both are off. The runner resolves
 *   what it processed and commits explicitly with {@link KafkaConsumer.commit} or in a
 *   transaction with {@link KafkaTransaction.sendOffsets}; committed offsets are "next to read"
 *   (last processed + 1).
 * - `pause()` takes effect for the next fetch only: the batch in hand is still delivered. A
 *   handler that pauses its own partition should stop at once (`batch.pause()` returns the
 *   resume function) and not resolve the rest: after resume, fetching restarts at the first
 *   unresolved record, so nothing is lost or seen twice (tested). `pause()` before `run()`
 *   throws in kafkajs; pause in `onAssign`, which runs before the first fetch (tested).
 * - kafkajs has only the eager rebalance protocol and no rebalance listener: instrumentation
 *   events are not awaited. Assignment callbacks here come from `GROUP_JOIN` (the member's full
 *   assignment after every join/sync); revocations are the partitions of the previous
 *   assignment missing from the new one, reported before the new assignment, plus everything
 *   on disconnect. They are notifications after the fact: commits for revoked partitions fail
 *   (REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION), so the runner must commit after every batch,
 *   not on revoke.
 * - kafkajs keeps `pause()` state apart from the assignment: a paused partition that moves away
 *   and comes back is still paused. The runner should resume what it paused on revoke.
 * - Batches holding only aborted records or transaction markers never reach `eachBatch`: kafkajs
 *   resolves them itself but (autoCommit off) does not commit them, so a group's committed
 *   offset can stay behind the end offset by the markers. Lag = end − committed overstates by that.
 * - kafkajs runs InitProducerId for a transactional id twice: at connect (idempotent manager)
 *   and again at the producer's first `transaction()`. So an older producer that begins its
 *   first transaction after a newer one connected bumps the epoch again and fences the NEWER
 *   one. `producer()` begins and aborts an empty transaction, so the epoch is taken once, when
 *   the producer is created, and a zombie's later transactions fail (tested).
 * - Transactions need `idempotent: true` and `maxInFlightRequests: 1`; one transaction at a time
 *   per producer; no KIP-447 group-metadata fencing, so the runner uses one transactional id
 *   per task (input partition).
 * - The default partitioner is set explicitly (murmur2, Java-compatible) to silence the v2
 *   partitioner warning and to place keys where Java clients do.
 */
import { randomBytes } from 'node:crypto';
import kafkajs, {
  type Admin,
  type Consumer,
  type IHeaders,
  type Producer,
  type Transaction,
} from 'kafkajs';

// kafkajs is CommonJS: Node's ESM loader finds only some of its exports by name
// (ConfigResourceTypes is not among them), so take them from the default export.
const { CompressionTypes, ConfigResourceTypes, Kafka, logLevel: KafkaLogLevel, Partitioners } = kafkajs;
type CompressionTypes = kafkajs.CompressionTypes;
type KafkaLogLevel = kafkajs.logLevel;

/** A topic partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A topic partition with an offset (a decimal string, as Kafka offsets exceed 2^53 in theory). */
export interface TopicPartitionOffset extends TopicPartition {
  offset: string;
  /** Offset-commit metadata stored with the offset (the broker keeps up to 4 KiB by default). */
  metadata?: string;
}

/** A record to produce. `partition` overrides the key's partition. */
export interface ProducerRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string>;
  partition?: number;
  /** Epoch ms; default: now. */
  timestamp?: number;
}

/** A consumed record. Repeated headers keep their last value. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  /** Epoch ms (create or log-append time, as the topic says). */
  timestamp: number;
}

/** A batch of one partition, in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /** The partition's high watermark when fetched (its end offset). */
  highWatermark: string;
  /** Marks records up to `offset` as processed, so a rebalance or stop does not redeliver them in this session. */
  resolveOffset(offset: string): void;
  /** Heartbeats the group (long batches must, inside `sessionTimeout`); throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: stop processing, resolve nothing more. */
  isRunning(): boolean;
  /** True when the batch is outdated (a seek or rebalance since the fetch): drop the rest. */
  isStale(): boolean;
  /** Pauses this partition and returns its resume function; the handler should return right after. */
  pause(): () => void;
}

/** Where a send put the records of one topic partition: offsets `baseOffset` … `baseOffset + count − 1`. */
export interface SentBatch {
  topic: string;
  partition: number;
  baseOffset: string;
}

/** Options of {@link KafkaAdapter.readPartition}. */
export interface ReadPartitionOptions {
  /** First offset to read (a decimal string), or `earliest`. */
  from: string;
  /** Last offset wanted (inclusive): reading ends once the partition is consumed up to it. */
  upTo: string;
  /** Keep reading as records arrive (`upTo` is ignored) until this signal aborts: a global table's feed. */
  follow?: AbortSignal;
  /** Skip aborted transactional records (default true). */
  readCommitted?: boolean;
}

/** The committed offset of a partition of a group (`-1` when none). */
export interface PartitionOffset {
  partition: number;
  offset: string;
  /** The metadata committed with the offset, if any. */
  metadata?: string;
}

/** A partition's first and end offsets. */
export interface PartitionWatermarks {
  partition: number;
  low: string;
  high: string;
}

/** A topic to create. */
export interface TopicSpec {
  name: string;
  partitions: number;
  configs?: Record<string, string>;
  replicationFactor?: number;
}

/** An existing topic. */
export interface TopicDescription {
  name: string;
  partitions: Array<{ partition: number; leader: number; replicas: number[] }>;
  /** Its configs (defaults included), e.g. `cleanup.policy`. */
  configs: Record<string, string>;
}

/** Admin operations; connected when returned, disconnect when done. */
export interface KafkaAdmin {
  listTopics(): Promise<string[]>;
  /** Creates the topics that do not exist yet and waits for their leaders; returns the names it created. */
  createTopics(specs: TopicSpec[]): Promise<string[]>;
  /** The named topics that exist (missing ones are left out, never auto-created). */
  describeTopics(names: string[]): Promise<TopicDescription[]>;
  /** Deletes the named topics; missing ones are fine. */
  deleteTopics(names: string[]): Promise<void>;
  /** A group's committed offsets on `topic`, per partition (`-1`: none). */
  fetchOffsets(groupId: string, topic: string): Promise<PartitionOffset[]>;
  /**
   * First and end offsets of every partition of `topic`. `high` is the last stable offset
   * (listed read_committed): where a read_committed restore of a changelog is complete, never
   * behind an open transaction.
   */
  endOffsets(topic: string): Promise<PartitionWatermarks[]>;
  /** Deletes records before the given offsets (repartition topics after their offsets committed). */
  deleteRecords(topic: string, offsets: PartitionOffset[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A transaction of a transactional producer. */
export interface KafkaTransaction {
  /** Sends within the transaction; returns the base offset per topic partition written. */
  send(records: ProducerRecord[]): Promise<SentBatch[]>;
  /** Commits the consumer group's offsets with this transaction (offset = next to read). */
  sendOffsets(args: { groupId: string; offsets: TopicPartitionOffset[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface ProducerOptions {
  /**
   * Makes the producer transactional (implies idempotent). One per task: kafkajs has no KIP-447.
   * Getting the producer fences an older producer with the same id and aborts its open transaction.
   */
  transactionalId?: string;
  idempotent?: boolean;
  /** Transaction timeout in ms (default 60 s). */
  transactionTimeout?: number;
}

/** A producer; connected when returned. */
export interface KafkaProducer {
  /** Sends and waits for the acknowledgements of all in-sync replicas; returns the base offset per topic partition written. */
  send(records: ProducerRecord[]): Promise<SentBatch[]>;
  /** Begins a transaction (transactional producers only; one at a time). */
  transaction(): Promise<KafkaTransaction>;
  disconnect(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  /** Only committed transactional records (default true, as kafkajs). */
  readCommitted?: boolean;
  /** Default 30 s. */
  sessionTimeout?: number;
  /** Default 60 s. */
  rebalanceTimeout?: number;
  /** Default 3 s. */
  heartbeatInterval?: number;
  /** How long the broker may hold a fetch without data; default 500 ms. */
  maxWaitTimeInMs?: number;
  /** Bytes per partition per fetch; default 1 MiB. */
  maxBytesPerPartition?: number;
}

/** A group consumer; connected when returned. */
export interface KafkaConsumer {
  /** Before `run`. `fromBeginning` applies to partitions the group has no offset for. */
  subscribe(topics: string[], options?: { fromBeginning?: boolean }): Promise<void>;
  /** Starts fetching; batches of one partition arrive one at a time. Resolves once started. */
  run(handlers: { eachBatch(batch: ConsumedBatch): Promise<void> }): Promise<void>;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  paused(): TopicPartition[];
  /** The partitions assigned at the last join. */
  assignment(): TopicPartition[];
  /** Called after each join with the newly assigned partitions (not the ones kept). */
  onAssign(listener: (partitions: TopicPartition[]) => void): void;
  /** Called with partitions of the previous assignment that a join took away, and with all of them on disconnect. */
  onRevoke(listener: (partitions: TopicPartition[]) => void): void;
  /** Called when the consumer crashed and will not restart by itself. */
  onCrash(listener: (error: Error) => void): void;
  /** Commits offsets (next to read) for the group. */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Rewinds a partition (e.g. to reprocess after a failed transaction). */
  seek(offset: TopicPartitionOffset): void;
  disconnect(): Promise<void>;
}

/** The client the Kafka runner works with. */
export interface KafkaAdapter {
  admin(): Promise<KafkaAdmin>;
  producer(options?: ProducerOptions): Promise<KafkaProducer>;
  consumer(options: ConsumerOptions): Promise<KafkaConsumer>;
  /**
   * The records of one partition from `from` up to `upTo`, in offset order, outside any
   * consumer group's offsets (Java's `assign` + `seek`): what a task reads to restore a store
   * from its changelog. Ends when the consumer's position passes `upTo`, transaction markers
   * and compacted-away offsets included.
   */
  readPartition(topic: string, partition: number, options: ReadPartitionOptions): AsyncIterable<ConsumedRecord>;
}

export type KafkaLogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export interface KafkaJsAdapterOptions {
  brokers: string[];
  clientId?: string;
  /** kafkajs's own logging; default 'warn'. */
  logLevel?: KafkaLogLevelName;
  /** Compression of produced batches; default none. */
  compression?: 'none' | 'gzip';
}

const LEVELS: Record<KafkaLogLevelName, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
};

function toHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = Buffer.isBuffer(last) ? last : Buffer.from(last);
  }
  return out;
}

/** Groups records per topic for kafkajs's `sendBatch`. */
function topicMessages(records: ProducerRecord[]) {
  const byTopic = new Map<string, Array<{ key: Buffer | null; value: Buffer | null; headers?: IHeaders; partition?: number; timestamp?: string }>>();
  for (const r of records) {
    let messages = byTopic.get(r.topic);
    if (!messages) byTopic.set(r.topic, (messages = []));
    messages.push({
      key: r.key,
      value: r.value,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.partition === undefined ? {} : { partition: r.partition }),
      ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

function sent(metadata: Array<{ topicName: string; partition: number; baseOffset?: string }>): SentBatch[] {
  return metadata.map((m) => {
    if (m.baseOffset === undefined) throw new Error(`no base offset in the produce response for ${m.topicName}/${m.partition}`);
    return { topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset };
  });
}

/** Offsets grouped per topic, the shape kafkajs wants for commits and sendOffsets. */
function offsetsByTopic(offsets: TopicPartitionOffset[]) {
  const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const o of offsets) {
    let partitions = byTopic.get(o.topic);
    if (!partitions) byTopic.set(o.topic, (partitions = []));
    partitions.push({ partition: o.partition, offset: o.offset });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

function partitionsByTopic(tps: TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

const key = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

function flatten(assignment: Record<string, number[]>): TopicPartition[] {
  return Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
}

function wrapAdmin(admin: Admin): KafkaAdmin {
  const describeTopics = async (names: string[]): Promise<TopicDescription[]> => {
    const all = new Set(await admin.listTopics());
    const present = names.filter((n) => all.has(n));
    if (present.length === 0) return [];
    const metadata = await admin.fetchTopicMetadata({ topics: present });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    return metadata.topics.map((t) => {
      const resource = configs.resources.find((r) => r.resourceName === t.name);
      return {
        name: t.name,
        partitions: t.partitions
          .map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas }))
          .sort((a, b) => a.partition - b.partition),
        configs: Object.fromEntries((resource?.configEntries ?? []).map((c) => [c.configName, c.configValue])),
      };
    });
  };
  return {
    listTopics: () => admin.listTopics(),
    async createTopics(specs) {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.name));
      const created: string[] = [];
      // One at a time: kafkajs answers `false` for a batch when any topic already exists (another
      // instance may create the same topics concurrently), which would hide which ones were new.
      for (const s of missing) {
        // No waitForLeaders: kafkajs's wait reads metadata once the topic is created and throws
        // UNKNOWN_TOPIC_OR_PARTITION when the broker has not propagated it yet (seen 1 start in
        // 4 under load); ensureTopics polls for leaders itself.
        const ok = await admin.createTopics({
          waitForLeaders: false,
          topics: [{
            topic: s.name,
            numPartitions: s.partitions,
            replicationFactor: s.replicationFactor ?? -1,
            configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
          }],
        });
        if (ok) created.push(s.name);
      }
      return created;
    },
    describeTopics,
    async deleteTopics(names) {
      const existing = new Set(await admin.listTopics());
      const topics = names.filter((n) => existing.has(n));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    },
    async fetchOffsets(groupId, topic) {
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (result?.partitions ?? [])
        .map((p) => ({ partition: p.partition, offset: p.offset, ...(p.metadata ? { metadata: p.metadata } : {}) }))
        .sort((a, b) => a.partition - b.partition);
    },
    async endOffsets(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets
        .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
        .sort((a, b) => a.partition - b.partition);
    },
    async deleteRecords(topic, partitions) {
      await admin.deleteTopicRecords({ topic, partitions });
    },
    disconnect: () => admin.disconnect(),
  };
}

function wrapTransaction(tx: Transaction, compression: CompressionTypes): KafkaTransaction {
  return {
    async send(records) {
      if (records.length === 0) return [];
      return sent(await tx.sendBatch({ topicMessages: topicMessages(records), compression }));
    },
    async sendOffsets({ groupId, offsets }) {
      await tx.sendOffsets({ consumerGroupId: groupId, topics: offsetsByTopic(offsets) });
    },
    commit: () => tx.commit(),
    abort: () => tx.abort(),
  };
}

function wrapProducer(producer: Producer, compression: CompressionTypes, transactional: boolean): KafkaProducer {
  return {
    async send(records) {
      if (records.length === 0) return [];
      return sent(await producer.sendBatch({ topicMessages: topicMessages(records), acks: -1, compression }));
    },
    async transaction() {
      if (!transactional) throw new Error('transaction(): the producer has no transactionalId');
      return wrapTransaction(await producer.transaction(), compression);
    },
    disconnect: () => producer.disconnect(),
  };
}

function wrapConsumer(consumer: Consumer): KafkaConsumer {
  let current: TopicPartition[] = [];
  const assignListeners: Array<(p: TopicPartition[]) => void> = [];
  const revokeListeners: Array<(p: TopicPartition[]) => void> = [];
  const crashListeners: Array<(e: Error) => void> = [];
  const notify = <T>(listeners: Array<(v: T) => void>, value: T) => {
    for (const l of listeners) l(value);
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const next = flatten(event.payload.memberAssignment);
    const before = new Set(current.map(key));
    const after = new Set(next.map(key));
    const revoked = current.filter((tp) => !after.has(key(tp)));
    const assigned = next.filter((tp) => !before.has(key(tp)));
    current = next;
    if (revoked.length > 0) notify(revokeListeners, revoked);
    if (assigned.length > 0) notify(assignListeners, assigned);
  });
  consumer.on(consumer.events.CRASH, (event) => {
    // restart: true means kafkajs rejoins by itself (and GROUP_JOIN follows)
    if (!event.payload.restart) notify(crashListeners, event.payload.error);
  });
  return {
    async subscribe(topics, options = {}) {
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? false });
    },
    async run({ eachBatch }) {
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
          const records = batch.messages.map((m): ConsumedRecord => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            headers: toHeaders(m.headers),
            timestamp: Number(m.timestamp),
          }));
          if (records.length === 0) return; // kafkajs hands over empty batches (e.g. aborted transactions only)
          await eachBatch({
            topic: batch.topic,
            partition: batch.partition,
            records,
            highWatermark: batch.highWatermark,
            resolveOffset,
            heartbeat,
            isRunning,
            isStale,
            pause,
          });
        },
      });
    },
    pause: (partitions) => consumer.pause(partitionsByTopic(partitions)),
    resume: (partitions) => consumer.resume(partitionsByTopic(partitions)),
    paused: () => consumer.paused().flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))),
    assignment: () => [...current],
    onAssign: (l) => { assignListeners.push(l); },
    onRevoke: (l) => { revokeListeners.push(l); },
    onCrash: (l) => { crashListeners.push(l); },
    async commit(offsets) {
      if (offsets.length > 0) await consumer.commitOffsets(offsets.map((o) => ({ ...o })));
    },
    seek: (o) => consumer.seek(o),
    async disconnect() {
      await consumer.disconnect();
      const revoked = current;
      current = [];
      if (revoked.length > 0) notify(revokeListeners, revoked);
    },
  };
}

/**
 * The kafkajs adapter.
 *
 * @example
 * ```ts
 * const kafka = createKafkaJsAdapter({ brokers: ['localhost:9092'], clientId: 'shop' });
 * const producer = await kafka.producer();
 * await producer.send([{ topic: 'shop-events', key: Buffer.from('u1'), value: Buffer.from('{}') }]);
 * await producer.disconnect();
 * ```
 */
export function createKafkaJsAdapter(options: KafkaJsAdapterOptions): KafkaAdapter {
  const kafka = new Kafka({
    clientId: options.clientId ?? 'tributary',
    brokers: options.brokers,
    logLevel: LEVELS[options.logLevel ?? 'warn'],
  });
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  return {
    async admin() {
      const admin = kafka.admin();
      await admin.connect();
      return wrapAdmin(admin);
    },
    async producer(opts = {}) {
      const transactional = opts.transactionalId !== undefined;
      const producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: transactional || (opts.idempotent ?? false),
        ...(transactional ? { transactionalId: opts.transactionalId, maxInFlightRequests: 1 } : {}),
        ...(opts.transactionTimeout === undefined ? {} : { transactionTimeout: opts.transactionTimeout }),
      });
      await producer.connect();
      if (transactional) {
        // kafkajs calls InitProducerId again at the first transaction(), which would let an older
        // producer fence a newer one: take the epoch now, with an empty transaction.
        const tx = await producer.transaction();
        await tx.abort();
      }
      return wrapProducer(producer, compression, transactional);
    },
    async consumer(opts) {
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        allowAutoTopicCreation: false,
        readUncommitted: !(opts.readCommitted ?? true),
        sessionTimeout: opts.sessionTimeout ?? 30_000,
        rebalanceTimeout: opts.rebalanceTimeout ?? 60_000,
        heartbeatInterval: opts.heartbeatInterval ?? 3_000,
        maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 500,
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      });
      await consumer.connect();
      return wrapConsumer(consumer);
    },
    readPartition: (topic, partition, opts) => readPartition(kafka, options.clientId ?? 'tributary', topic, partition, opts),
  };
}

/**
 * {@link KafkaAdapter.readPartition} on kafkajs, which has no `assign`: a consumer in a group of
 * its own (never committing) subscribes to the topic, pauses every other partition on each join
 * and seeks the wanted one. The end is detected from kafkajs's END_BATCH_PROCESS events, whose
 * `lastOffset` also covers batches of transaction markers only (they never reach `eachBatch`).
 * One fetched batch is held at a time: the consumer waits until the reader has taken it.
 */
async function* readPartition(kafka: InstanceType<typeof Kafka>, clientId: string, topic: string, partition: number, opts: ReadPartitionOptions): AsyncGenerator<ConsumedRecord> {
  const follow = opts.follow;
  const upTo = follow ? 1n << 62n : BigInt(opts.upTo);
  if (follow?.aborted || upTo < 0n || (opts.from !== 'earliest' && BigInt(opts.from) > upTo)) return;
  const consumer = kafka.consumer({
    groupId: `${clientId}-read-${topic}-${partition}-${process.pid}-${randomBytes(6).toString('hex')}`,
    allowAutoTopicCreation: false,
    readUncommitted: !(opts.readCommitted ?? true),
    maxWaitTimeInMs: 100,
    // Changelog records are ~30 bytes: 16 MiB per fetch became 500k objects at once (1 GB RSS
    // restoring 1M keys). 2 MiB keeps a fetch at tens of thousands.
    maxBytes: 8 << 20,
    maxBytesPerPartition: 2 << 20,
  });
  type Item = { records: ConsumedRecord[] } | { end: bigint };
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  let release: (() => void) | undefined;
  let failed: unknown;
  let done = false;
  const push = (item: Item) => {
    queue.push(item);
    wake?.();
  };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const others = flatten(event.payload.memberAssignment).filter((tp) => tp.topic !== topic || tp.partition !== partition);
    if (others.length > 0) consumer.pause(partitionsByTopic(others));
    // A new group starts at the earliest offset (fromBeginning); elsewhere, seek.
    if (opts.from !== 'earliest' && flatten(event.payload.memberAssignment).some((tp) => tp.topic === topic && tp.partition === partition)) {
      consumer.seek({ topic, partition, offset: opts.from });
    }
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const p = event.payload as { topic: string; partition: number; lastOffset?: string };
    if (p.topic === topic && p.partition === partition && p.lastOffset !== undefined) push({ end: BigInt(p.lastOffset) });
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) {
      failed = event.payload.error;
      wake?.();
    }
  });
  const onAbort = () => wake?.();
  follow?.addEventListener('abort', onAbort);
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (done || batch.topic !== topic || batch.partition !== partition || batch.messages.length === 0) return;
        push({
          records: batch.messages.map((m) => ({
            topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers: toHeaders(m.headers), timestamp: Number(m.timestamp),
          })),
        });
        await new Promise<void>((resolve) => (release = resolve));
      },
    }).catch((error: unknown) => {
      failed = error ?? new Error('consumer failed');
      wake?.();
    });
    for (;;) {
      while (queue.length === 0) {
        if (follow?.aborted) return;
        if (failed !== undefined) throw failed instanceof Error ? failed : new Error(String(failed));
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      const item = queue.shift() as Item;
      if ('end' in item) {
        if (item.end >= upTo) return;
        continue;
      }
      for (const r of item.records) {
        if (BigInt(r.offset) > upTo) return;
        yield r;
        if (BigInt(r.offset) === upTo) return;
      }
      const r = release;
      release = undefined;
      r?.();
    }
  } finally {
    follow?.removeEventListener('abort', onAbort);
    done = true;
    release?.();
    await consumer.disconnect();
  }
}
