/**
 * A consumer group: its committed offsets (with metadata) and its members, rebalanced with the
 * eager protocol kafkajs speaks. A join, a leave or a crash starts a rebalance; it completes once
 * no member is inside a batch (a member finishes the batch in hand, then rejoins), so a
 * partition is never processed by two members at once. On completion every member first learns
 * what it lost, then what it got, and restarts every partition it holds from the committed offset
 * (kafkajs drops its positions at each join). Offset commits are accepted from members of the
 * current generation, also while a rebalance is pending (Kafka's PreparingRebalance state).
 */
import type { TopicPartition } from '../adapter.js';
import { assignPartitions, type AssignorName } from './assignors.js';
import { MemoryKafkaError } from './errors.js';

export interface CommittedOffset {
  offset: string;
  metadata?: string;
}

/** What the group needs from a member (the memory consumer). */
export interface GroupMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  /** True while it processes a batch: a rebalance waits for it. */
  busy(): boolean;
  /** A rebalance completed: the partitions it loses (reported before anyone's new ones). */
  revoke(next: readonly TopicPartition[]): void;
  /** … then its whole new assignment and the new generation. */
  assign(next: readonly TopicPartition[], generation: number): void;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ConsumerGroup {
  private readonly offsets = new Map<string, CommittedOffset>();
  private readonly members = new Map<string, GroupMember>();
  private generationId = 0;
  private pending = false;

  constructor(
    readonly groupId: string,
    private readonly assignor: AssignorName,
    private readonly partitionsOf: (topic: string) => number,
    private readonly changed: () => void,
  ) {}

  generation(): number {
    return this.generationId;
  }

  /** A rebalance waits for members still inside a batch. */
  rebalancing(): boolean {
    return this.pending;
  }

  memberIds(): string[] {
    return [...this.members.keys()].sort();
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  join(member: GroupMember): void {
    this.members.set(member.memberId, member);
    this.rebalance();
  }

  /** A member left (disconnect) or was removed (crash, session timeout). */
  leave(memberId: string): void {
    if (!this.members.delete(memberId)) return;
    this.rebalance();
  }

  /** Starts a rebalance (also on a topic change); completes it at once when no member is busy. */
  rebalance(): void {
    this.pending = true;
    this.changed();
    this.tryComplete();
  }

  /** Completes a pending rebalance if no member is inside a batch (members call this after each batch). */
  tryComplete(): void {
    if (!this.pending) return;
    const members = [...this.members.values()];
    if (members.some((m) => m.busy())) return;
    this.pending = false;
    this.generationId++;
    const assignment = assignPartitions(this.assignor, members, this.partitionsOf);
    const of = (m: GroupMember) => assignment.get(m.memberId) ?? [];
    for (const m of members) m.revoke(of(m));
    for (const m of members) m.assign(of(m), this.generationId);
    this.changed();
  }

  /** Commits offsets (next to read) for a member of `generation`, or from a transaction (`member` undefined). */
  commit(offsets: ReadonlyArray<TopicPartition & CommittedOffset>, member?: { memberId: string; generation: number }): void {
    if (member) {
      if (!this.members.has(member.memberId)) {
        throw new MemoryKafkaError('UNKNOWN_MEMBER_ID', `memory kafka: ${member.memberId} is not a member of group ${this.groupId} (it left or was removed)`);
      }
      if (member.generation !== this.generationId) {
        throw new MemoryKafkaError('ILLEGAL_GENERATION', `memory kafka: group ${this.groupId} is at generation ${this.generationId}, the commit is of ${member.generation}`);
      }
    }
    for (const o of offsets) {
      this.offsets.set(tpKey(o.topic, o.partition), { offset: o.offset, ...(o.metadata ? { metadata: o.metadata } : {}) });
    }
    this.changed();
  }

  /** The committed offset of a partition, if any. */
  committed(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(tpKey(topic, partition));
  }

  /** Forgets the offsets of a deleted topic. */
  forgetTopic(topic: string): void {
    for (const k of [...this.offsets.keys()]) if (k.startsWith(`${topic}\u0000`)) this.offsets.delete(k);
  }

  /** Whether any member subscribes to `topic`. */
  subscribes(topic: string): boolean {
    return [...this.members.values()].some((m) => m.topics.includes(topic));
  }
}
