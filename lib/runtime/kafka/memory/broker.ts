/**
 * The in-process broker: topics of partition logs with their configs, consumer groups, the
 * transaction coordinator, fault injection and crashes, and one change signal that wakes every
 * waiting reader (no polling, no timers). The adapter ({@link ./adapter.ts}) is the client side;
 * tests use the broker directly to inject faults, crash a client and look at what was written.
 */
import type { ConsumedRecord, PartitionOffset, ProducerRecord, SentBatch, TopicSpec } from '../adapter.js';
import { topicNameProblem } from '../topics.js';
import { systemClock, type Clock } from '../../../time/clock.js';
import type { AssignorName } from './assignors.js';
import { crashed, MemoryKafkaError, unknownTopic } from './errors.js';
import { FaultRegistry, type Fault, type FaultOp, type FaultOptions } from './faults.js';
import { ConsumerGroup } from './group.js';
import { PartitionLog, visible, type Appended, type LogEntry } from './log.js';
import { partitionForKey } from '../partitioner.js';
import { TransactionCoordinator, type OpenTransaction, type TxnOffsets } from './transactions.js';

export interface MemoryBrokerOptions {
  /** Record timestamps (when the producer gives none) and transaction timeouts; default the system clock. */
  clock?: Clock;
  /** How groups split partitions; default `round-robin` (kafkajs's default assignor). */
  assignor?: AssignorName;
}

/** Configs every topic reports (as a broker's defaults), under the ones it was created with. */
export const DEFAULT_TOPIC_CONFIGS: Readonly<Record<string, string>> = Object.freeze({
  'cleanup.policy': 'delete',
  'retention.ms': '604800000',
  'max.message.bytes': '1048588',
  'message.timestamp.type': 'CreateTime',
});

/** Bytes Kafka counts for a record batch of these records (uncompressed, roughly: 61 + ~12 per record). */
const batchBytes = (records: Appended[]): number =>
  records.reduce((n, r) => n + 12 + (r.key?.length ?? 0) + (r.value?.length ?? 0)
    + Object.entries(r.headers).reduce((h, [k, v]) => h + k.length + v.length, 0), 61);

export interface MemoryTopic {
  readonly name: string;
  readonly configs: Record<string, string>;
  readonly logs: PartitionLog[];
}

export class MemoryBroker {
  readonly clock: Clock;
  readonly transactions: TransactionCoordinator;
  private readonly faults = new FaultRegistry();
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly assignor: AssignorName;
  private waiters = new Set<() => void>();
  /** Each client id's incarnation: a crash starts a new one, and objects of the old one are dead. */
  private readonly incarnations = new Map<string, number>();
  private readonly crashListeners = new Set<(clientId: string) => void>();
  private readonly dropListeners = new Set<(clientId: string) => void>();
  private readonly nextKeyless = new Map<string, number>();
  private members = 0;

  constructor(options: MemoryBrokerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.assignor = options.assignor ?? 'round-robin';
    this.transactions = new TransactionCoordinator({
      now: () => this.clock.now(),
      commitOffsets: (offsets) => this.commitTxnOffsets(offsets),
      changed: () => this.changed(),
    });
  }

  // ---- change signal ------------------------------------------------------------------------

  /** Wakes everything waiting for a change (a write, a transaction's end, a commit, a rebalance, a resume). */
  changed(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next {@link changed}, or when `signal` aborts. */
  nextChange(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  // ---- topics -------------------------------------------------------------------------------

  /** Creates a topic; false when it exists. Throws on an illegal name or partition count. */
  createTopic(spec: TopicSpec): boolean {
    const problem = topicNameProblem(spec.name);
    if (problem) throw new MemoryKafkaError('INVALID_TOPIC_EXCEPTION', `memory kafka: topic name ${JSON.stringify(spec.name)} ${problem}`);
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw new MemoryKafkaError('INVALID_PARTITIONS', `memory kafka: topic ${spec.name}: ${spec.partitions} partitions (at least 1)`);
    }
    if (this.topics.has(spec.name)) return false;
    const logs = Array.from({ length: spec.partitions }, (_, p) => new PartitionLog(spec.name, p));
    this.topics.set(spec.name, { name: spec.name, configs: { ...DEFAULT_TOPIC_CONFIGS, ...spec.configs }, logs });
    for (const g of this.groups.values()) if (g.subscribes(spec.name)) g.rebalance();
    this.changed();
    return true;
  }

  deleteTopic(name: string): void {
    if (!this.topics.delete(name)) return;
    for (const g of this.groups.values()) {
      g.forgetTopic(name);
      if (g.subscribes(name)) g.rebalance();
    }
    this.changed();
  }

  topic(name: string): MemoryTopic | undefined {
    return this.topics.get(name);
  }

  topicNames(): string[] {
    return [...this.topics.keys()].sort();
  }

  /** The partition count of `topic`, 0 when it does not exist. */
  partitionCount(topic: string): number {
    return this.topics.get(topic)?.logs.length ?? 0;
  }

  /** The log of a topic partition; throws UNKNOWN_TOPIC_OR_PARTITION. */
  log(topic: string, partition: number): PartitionLog {
    const t = this.topics.get(topic);
    if (!t) throw unknownTopic(topic);
    const log = t.logs[partition];
    if (!log) throw unknownTopic(topic, partition);
    return log;
  }

  // ---- produce ------------------------------------------------------------------------------

  /**
   * Appends records (validated first: nothing is written when one is wrong), each partition's in
   * one batch; returns the base offset per topic partition in first-record order.
   */
  append(records: ProducerRecord[], tx?: OpenTransaction): SentBatch[] {
    const batches = new Map<PartitionLog, Appended[]>();
    const now = this.clock.now();
    for (const r of records) {
      const t = this.topics.get(r.topic);
      if (!t) throw unknownTopic(r.topic);
      let partition = r.partition;
      if (partition === undefined) {
        if (r.key) partition = partitionForKey(r.key, t.logs.length);
        else {
          const n = this.nextKeyless.get(r.topic) ?? 0;
          this.nextKeyless.set(r.topic, n + 1);
          partition = n % t.logs.length;
        }
      }
      const log = t.logs[partition];
      if (!log) throw unknownTopic(r.topic, partition);
      const headers: Record<string, Buffer> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) headers[k] = typeof v === 'string' ? Buffer.from(v) : Buffer.from(v);
      const timestamp = t.configs['message.timestamp.type'] === 'LogAppendTime' ? now : (r.timestamp ?? now);
      let batch = batches.get(log);
      if (!batch) batches.set(log, (batch = []));
      batch.push({ key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), headers, timestamp });
    }
    for (const [log, batch] of batches) {
      const max = Number(this.topics.get(log.topic)?.configs['max.message.bytes']);
      const bytes = batchBytes(batch);
      if (bytes > max) {
        throw new MemoryKafkaError('MESSAGE_TOO_LARGE', `memory kafka: a batch of ${batch.length} records (${bytes} bytes) for ${log.topic}/${log.partition} exceeds max.message.bytes=${max}`);
      }
    }
    const sent: SentBatch[] = [];
    for (const [log, batch] of batches) {
      const base = log.append(batch, tx?.outcome);
      if (tx) tx.partitions.add(log);
      sent.push({ topic: log.topic, partition: log.partition, baseOffset: String(base) });
    }
    if (sent.length > 0) this.changed();
    return sent;
  }

  // ---- groups -------------------------------------------------------------------------------

  /** The group (created on first use, as the coordinator does). */
  group(groupId: string): ConsumerGroup {
    let g = this.groups.get(groupId);
    if (!g) {
      g = new ConsumerGroup(groupId, this.assignor, (topic) => this.partitionCount(topic), () => this.changed());
      this.groups.set(groupId, g);
    }
    return g;
  }

  /** A new member id of `clientId` (sorted in join order among the members of one client). */
  memberId(clientId: string): string {
    return `${clientId}-${String(++this.members).padStart(6, '0')}`;
  }

  private commitTxnOffsets(offsets: TxnOffsets): void {
    for (const [groupId, byPartition] of offsets) this.group(groupId).commit([...byPartition.values()]);
  }

  // ---- clients, crashes, faults -------------------------------------------------------------

  /** The current incarnation of a client id (objects remember the one they were made in). */
  incarnation(clientId: string): number {
    return this.incarnations.get(clientId) ?? 0;
  }

  /**
   * The process of client `clientId` died: its consumers stop and drop out of their groups at
   * once (as after the session timeout; no callbacks), and every later call of its producers,
   * consumers, admins and readers fails. Open transactions stay open until a producer with the
   * same transactional id fences them or they time out, as on a broker. Adapters made with the
   * same client id afterwards work.
   *
   * @example
   * ```ts
   * const kafka = createMemoryKafka();
   * const a = runKafka({ topology, adapter: kafka.adapter('a'), stateDir: 'state-a', signal });
   * const b = runKafka({ topology, adapter: kafka.adapter('b'), stateDir: 'state-b', signal });
   * kafka.broker.crash('a'); // b takes a's partitions and restores their state
   * ```
   */
  crash(clientId: string): void {
    this.incarnations.set(clientId, this.incarnation(clientId) + 1);
    for (const listener of [...this.crashListeners]) listener(clientId);
    this.changed();
  }

  /** Called with the client id of each crash (the consumers listen). */
  onCrash(listener: (clientId: string) => void): () => void {
    this.crashListeners.add(listener);
    return () => this.crashListeners.delete(listener);
  }

  /**
   * The coordinator drops client `clientId`'s consumers from their groups, as when a session
   * times out (a paused process, a batch longer than the session timeout): each group rebalances
   * without them at once, and each consumer gives up as kafkajs does when its own rejoin fails
   * too: it stops fetching and its crash listeners get an `UNKNOWN_MEMBER_ID` error. The client
   * lives on: its producers and admins work, and a consumer made afterwards joins as a new member.
   *
   * @example
   * ```ts
   * kafka.broker.dropFromGroups('a'); // b takes a's partitions; a's runner joins again
   * ```
   */
  dropFromGroups(clientId: string): void {
    for (const listener of [...this.dropListeners]) listener(clientId);
    this.changed();
  }

  /** Called with the client id of each {@link dropFromGroups} (the consumers listen). */
  onDrop(listener: (clientId: string) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /**
   * Makes the next matching call(s) of `op` fail.
   *
   * @example
   * ```ts
   * const fault = broker.failNext('send', { written: true, topic: 'shop-sessionize-repartition' });
   * // … run …
   * fault.hits; // ['shop: send of 12 records to shop-sessionize-repartition (written, then failed)']
   * ```
   */
  failNext(op: FaultOp, options: FaultOptions = {}): Fault {
    return this.faults.arm(op, options);
  }

  /**
   * @internal The fault a client's call meets, or undefined. The call fails with `fail()`: before
   * it takes effect, or after when `written`; a crash fault crashes the client right then.
   */
  fault(op: FaultOp, clientId: string, topics: readonly string[], what: string, transactional?: boolean): { written: boolean; fail(): never } | undefined {
    const hit = this.faults.take(op, { clientId, topics, what, ...(transactional === undefined ? {} : { transactional }) });
    if (!hit) return undefined;
    return {
      written: hit.written,
      fail: () => {
        if (hit.crash) this.crash(clientId);
        throw hit.error ?? crashed(clientId);
      },
    };
  }

  // ---- inspection ---------------------------------------------------------------------------

  /** Every record of `topic` a reader of that isolation level sees (default read_committed), by partition and offset. */
  records(topic: string, options: { readCommitted?: boolean } = {}): ConsumedRecord[] {
    const t = this.topics.get(topic);
    if (!t) throw unknownTopic(topic);
    const readCommitted = options.readCommitted ?? true;
    this.transactions.expire();
    return t.logs.flatMap((log) => {
      const stable = readCommitted ? log.lastStable() : log.high();
      return log.all().filter((e) => e.offset < stable && visible(e, readCommitted)).map((e) => toConsumed(log, e));
    });
  }

  /** A group's committed offsets of `topic` (`-1`: none), with their metadata. */
  committed(groupId: string, topic: string): PartitionOffset[] {
    const t = this.topics.get(topic);
    if (!t) throw unknownTopic(topic);
    const g = this.groups.get(groupId);
    return t.logs.map((log) => {
      const c = g?.committed(topic, log.partition);
      return { partition: log.partition, offset: c?.offset ?? '-1', ...(c?.metadata ? { metadata: c.metadata } : {}) };
    });
  }

  /** The member ids of a group, sorted. */
  groupMembers(groupId: string): string[] {
    return this.groups.get(groupId)?.memberIds() ?? [];
  }

  /** Compacts every partition of `topic` (last record per key below the LSO); returns the records removed. */
  compact(topic: string): number {
    const t = this.topics.get(topic);
    if (!t) throw unknownTopic(topic);
    return t.logs.reduce((n, log) => n + log.compact(), 0);
  }
}

/** A log entry as a consumer receives it. */
export function toConsumed(log: PartitionLog, e: LogEntry): ConsumedRecord {
  return { topic: log.topic, partition: log.partition, offset: String(e.offset), key: e.key, value: e.value, headers: { ...e.headers }, timestamp: e.timestamp };
}
