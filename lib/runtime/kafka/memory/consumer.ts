/**
 * A group consumer over the memory broker that behaves as the kafkajs adapter does (client.ts
 * lists those behaviours; each is kept here):
 * - one member's batches arrive one at a time; a "fetch" takes a batch from every assigned,
 *   unpaused partition with records at its position (up to `maxBytesPerPartition`), then hands
 *   them over in turn. A partition paused after the fetch still gets the batch in hand;
 * - the position moves only by `resolveOffset` (resolving a batch's last record also passes the
 *   markers and aborted records after it); a handler that resolves nothing gets the same records
 *   again. Batches of only markers or aborted records never reach the handler;
 * - `seek` applies at the next fetch and makes the batch in hand stale; `pause`, `resume` and
 *   `seek` throw before `run()`, as kafkajs's do; pause state survives assignment changes;
 * - a rebalance completes once no member is inside a batch; every member then restarts each
 *   partition it holds from the group's committed offset (or the earliest/latest offset), and
 *   is told what it lost before anyone is told what they got (`onRevoke`, then `onAssign`, only
 *   the changes); `heartbeat()` throws REBALANCE_IN_PROGRESS while one is pending;
 * - a handler that throws makes the member rejoin (positions back to the committed offsets); five
 *   failures in a row crash it (`onCrash`, and it leaves the group), as kafkajs gives up;
 * - dropped by the coordinator ({@link MemoryBroker.dropFromGroups}), it is out of the group at once
 *   and crashes with `UNKNOWN_MEMBER_ID`; its offset commits fail with it from then on.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ConsumedBatch, ConsumerOptions, KafkaConsumer, TopicPartition, TopicPartitionOffset } from '../adapter.js';
import { toConsumed, type MemoryBroker } from './broker.js';
import { closed, crashed, MemoryKafkaError, unknownTopic } from './errors.js';
import type { ConsumerGroup, GroupMember } from './group.js';
import type { LogEntry, PartitionLog } from './log.js';

const tpKey = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
const byTopicPartition = (a: TopicPartition, b: TopicPartition) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition);
const NOT_RUNNING = 'Consumer group was not initialized, consumer#run must be called first';
/** Handler failures in a row after which the consumer crashes instead of rejoining. */
const MAX_FAILURES = 5;

interface Fetched {
  tp: TopicPartition;
  key: string;
  log: PartitionLog;
  records: LogEntry[];
  /** The position once the whole batch is resolved. */
  end: number;
}

export interface MemoryConsumerOptions extends ConsumerOptions {
  clientId: string;
}

export class MemoryConsumer implements KafkaConsumer, GroupMember {
  readonly memberId: string;
  readonly topics: string[] = [];
  private readonly group: ConsumerGroup;
  private readonly readCommitted: boolean;
  private readonly maxBytes: number;
  private fromBeginning = false;
  private generation = -1;
  private current: TopicPartition[] = [];
  private readonly positions = new Map<string, number>();
  private readonly pausedTps = new Map<string, TopicPartition>();
  private readonly seeks = new Map<string, number>();
  private handler: ((batch: ConsumedBatch) => Promise<void>) | undefined;
  private started = false;
  private running = false;
  private member = false;
  private disconnected = false;
  private dead = false;
  private inBatch = false;
  private failures = 0;
  private turn = 0;
  private loop: Promise<void> = Promise.resolve();
  private joined: (() => void) | undefined;
  private readonly assignListeners: Array<(p: TopicPartition[]) => void> = [];
  private readonly revokeListeners: Array<(p: TopicPartition[]) => void> = [];
  private readonly crashListeners: Array<(e: Error) => void> = [];
  private readonly stopListening: () => void;

  constructor(private readonly broker: MemoryBroker, private readonly options: MemoryConsumerOptions) {
    this.memberId = broker.memberId(options.clientId);
    this.group = broker.group(options.groupId);
    this.readCommitted = options.readCommitted ?? true;
    this.maxBytes = options.maxBytesPerPartition ?? 1024 * 1024;
    const crashes = broker.onCrash((clientId) => {
      if (clientId === options.clientId) this.die();
    });
    const drops = broker.onDrop((clientId) => {
      if (clientId !== options.clientId || !this.member) return;
      this.crash(new MemoryKafkaError('UNKNOWN_MEMBER_ID', `memory kafka: the coordinator is not aware of this member (${this.memberId} was dropped from group ${options.groupId}: no heartbeat within the session timeout)`));
    });
    this.stopListening = () => {
      crashes();
      drops();
    };
  }

  private alive(): void {
    if (this.dead) throw crashed(this.options.clientId);
  }

  async subscribe(topics: string[], options: { fromBeginning?: boolean } = {}): Promise<void> {
    this.alive();
    if (this.started) throw new MemoryKafkaError('INVALID_STATE', 'memory kafka: cannot subscribe while the consumer is running');
    for (const topic of topics) {
      if (!this.broker.topic(topic)) throw unknownTopic(topic);
      if (!this.topics.includes(topic)) this.topics.push(topic);
    }
    this.fromBeginning = options.fromBeginning ?? false;
  }

  async run(handlers: { eachBatch(batch: ConsumedBatch): Promise<void> }): Promise<void> {
    this.alive();
    if (this.disconnected) throw closed('consumer');
    if (this.started) throw new MemoryKafkaError('INVALID_STATE', 'memory kafka: the consumer is already running');
    this.handler = handlers.eachBatch;
    this.started = true;
    this.running = true;
    const joined = new Promise<void>((resolve) => (this.joined = resolve));
    this.member = true;
    this.group.join(this);
    await joined; // kafkajs's run() joins the group (GROUP_JOIN listeners ran) before it resolves
    this.loop = this.consume();
  }

  private async consume(): Promise<void> {
    while (this.running) {
      if (this.group.rebalancing()) {
        this.group.tryComplete();
        if (this.group.rebalancing()) {
          await this.broker.nextChange();
          continue;
        }
      }
      const generation = this.generation;
      const fetched = this.fetch();
      if (fetched.length === 0) {
        await this.broker.nextChange();
        continue;
      }
      for (const f of fetched) {
        if (!this.running || this.group.rebalancing() || this.generation !== generation) break;
        await this.deliver(f);
      }
      await yieldToLoop();
    }
  }

  /** One fetch: a batch of every assigned, unpaused partition with something to read. */
  private fetch(): Fetched[] {
    this.broker.transactions.expire();
    const out: Fetched[] = [];
    const n = this.current.length;
    for (let i = 0; i < n; i++) {
      const tp = this.current[(this.turn + i) % n] as TopicPartition;
      const key = tpKey(tp);
      const seek = this.seeks.get(key);
      if (seek !== undefined) {
        this.seeks.delete(key);
        this.positions.set(key, seek);
      }
      if (this.pausedTps.has(key)) continue;
      const log = this.broker.topic(tp.topic)?.logs[tp.partition];
      if (!log) continue;
      const from = this.positions.get(key) ?? 0;
      const r = log.fetch(from, { readCommitted: this.readCommitted, maxBytes: this.maxBytes });
      if (r.records.length > 0) out.push({ tp, key, log, records: r.records, end: r.end });
      else if (r.end !== from) this.positions.set(key, r.end); // only markers or aborted records: passed silently
    }
    this.turn = n === 0 ? 0 : (this.turn + 1) % n;
    return out;
  }

  private async deliver(f: Fetched): Promise<void> {
    const { tp, key } = f;
    const last = (f.records.at(-1) as LogEntry).offset;
    const batch: ConsumedBatch = {
      topic: tp.topic,
      partition: tp.partition,
      records: f.records.map((e) => toConsumed(f.log, e)),
      highWatermark: String(f.log.high()),
      resolveOffset: (offset) => {
        const o = Number(offset);
        if (this.positions.has(key)) this.positions.set(key, o === last ? f.end : o + 1);
      },
      heartbeat: async () => {
        this.alive();
        if (this.group.rebalancing()) throw new MemoryKafkaError('REBALANCE_IN_PROGRESS', `memory kafka: group ${this.options.groupId} is rebalancing`, true);
      },
      isRunning: () => this.running,
      isStale: () => this.seeks.has(key) || !this.positions.has(key),
      pause: () => {
        this.pause([tp]);
        return () => this.resume([tp]);
      },
    };
    this.inBatch = true;
    let failure: unknown;
    try {
      await (this.handler as (b: ConsumedBatch) => Promise<void>)(batch);
      this.failures = 0;
    } catch (error) {
      failure = error;
    } finally {
      this.inBatch = false;
    }
    if (failure !== undefined && !this.dead) {
      if (++this.failures >= MAX_FAILURES) this.crash(failure instanceof Error ? failure : new Error(String(failure)));
      else if (this.member) this.group.rebalance(); // kafkajs restarts the consumer: a rejoin
    }
    this.group.tryComplete();
  }

  // ---- group membership ---------------------------------------------------------------------

  busy(): boolean {
    return this.inBatch;
  }

  revoke(next: readonly TopicPartition[]): void {
    const keep = new Set(next.map(tpKey));
    const revoked = this.current.filter((tp) => !keep.has(tpKey(tp)));
    if (revoked.length > 0) this.notify(this.revokeListeners, revoked);
  }

  assign(next: readonly TopicPartition[], generation: number): void {
    const before = new Set(this.current.map(tpKey));
    const assigned = next.filter((tp) => !before.has(tpKey(tp)));
    this.current = [...next];
    this.generation = generation;
    this.turn = 0;
    this.positions.clear();
    for (const tp of next) this.positions.set(tpKey(tp), this.startOffset(tp));
    if (assigned.length > 0) this.notify(this.assignListeners, assigned);
    this.joined?.();
    this.joined = undefined;
  }

  /** Where a partition starts after a join: the committed offset, else the earliest or the latest. */
  private startOffset(tp: TopicPartition): number {
    const committed = this.group.committed(tp.topic, tp.partition);
    if (committed && committed.offset !== '-1') return Number(committed.offset);
    const log = this.broker.topic(tp.topic)?.logs[tp.partition];
    if (!log) return 0;
    if (this.fromBeginning) return log.low();
    return this.readCommitted ? log.lastStable() : log.high();
  }

  private notify(listeners: Array<(p: TopicPartition[]) => void>, partitions: TopicPartition[]): void {
    const sorted = [...partitions].sort(byTopicPartition);
    for (const listener of listeners) {
      try {
        listener(sorted);
      } catch (error) {
        queueMicrotask(() => this.crash(error instanceof Error ? error : new Error(String(error))));
      }
    }
  }

  /** Gives up: tells the crash listeners and leaves the group. */
  private crash(error: Error): void {
    if (this.dead || this.disconnected) return;
    this.running = false;
    this.leaveGroup();
    for (const listener of this.crashListeners) listener(error);
  }

  /** The client's process died: stop at once, out of the group, no callbacks. */
  private die(): void {
    this.dead = true;
    this.running = false;
    this.leaveGroup();
    this.stopListening();
  }

  private leaveGroup(): void {
    if (this.member) {
      this.member = false;
      this.group.leave(this.memberId);
    }
    this.joined?.();
    this.joined = undefined;
  }

  // ---- control ------------------------------------------------------------------------------

  pause(partitions: TopicPartition[]): void {
    if (!this.started) throw new MemoryKafkaError('INVALID_STATE', NOT_RUNNING);
    for (const tp of partitions) this.pausedTps.set(tpKey(tp), { topic: tp.topic, partition: tp.partition });
  }

  resume(partitions: TopicPartition[]): void {
    if (!this.started) throw new MemoryKafkaError('INVALID_STATE', NOT_RUNNING);
    for (const tp of partitions) this.pausedTps.delete(tpKey(tp));
    this.broker.changed();
  }

  paused(): TopicPartition[] {
    return [...this.pausedTps.values()].sort(byTopicPartition);
  }

  assignment(): TopicPartition[] {
    return [...this.current];
  }

  onAssign(listener: (partitions: TopicPartition[]) => void): void {
    this.assignListeners.push(listener);
  }

  onRevoke(listener: (partitions: TopicPartition[]) => void): void {
    this.revokeListeners.push(listener);
  }

  onCrash(listener: (error: Error) => void): void {
    this.crashListeners.push(listener);
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    this.alive();
    if (this.disconnected) throw closed('consumer');
    if (offsets.length === 0) return;
    const what = `offset commit of ${offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`).join(', ')}`;
    const fault = this.broker.fault('commit', this.options.clientId, offsets.map((o) => o.topic), what);
    if (fault && !fault.written) fault.fail();
    if (!this.member) throw new MemoryKafkaError('UNKNOWN_MEMBER_ID', `memory kafka: ${this.memberId} is not in group ${this.options.groupId} (call run() first)`);
    this.group.commit(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, ...(o.metadata ? { metadata: o.metadata } : {}) })),
      { memberId: this.memberId, generation: this.generation });
    if (fault) fault.fail();
  }

  seek(offset: TopicPartitionOffset): void {
    if (!this.started) throw new MemoryKafkaError('INVALID_STATE', NOT_RUNNING);
    if (!/^\d+$/.test(offset.offset)) throw new MemoryKafkaError('INVALID_OFFSET', `memory kafka: seek to ${JSON.stringify(offset.offset)}: not an offset`);
    this.seeks.set(tpKey(offset), Number(offset.offset));
    this.broker.changed();
  }

  async disconnect(): Promise<void> {
    if (this.disconnected) return;
    this.disconnected = true;
    this.running = false;
    this.broker.changed();
    await this.loop; // the batch in hand finishes first
    this.stopListening();
    this.leaveGroup();
    const revoked = this.current;
    this.current = [];
    this.positions.clear();
    if (!this.dead && revoked.length > 0) this.notify(this.revokeListeners, revoked);
  }
}
