/**
 * How a group's partitions are split over its members: pure functions of the members (sorted by
 * member id, as Kafka's assignors sort them), their subscriptions and the partition counts.
 * `round-robin` is kafkajs's default assignor: every subscribed partition of every topic (topics
 * sorted), dealt out in turn; `range` is the Java client's default: per topic, consecutive
 * partitions, the first members getting one more when it does not divide.
 */
import type { TopicPartition } from '../adapter.js';

export type AssignorName = 'round-robin' | 'range';

export interface AssignorMember {
  memberId: string;
  topics: readonly string[];
}

/** Member id → its partitions, each sorted by topic and partition. */
export type GroupAssignment = Map<string, TopicPartition[]>;

export function assignPartitions(assignor: AssignorName, members: readonly AssignorMember[], partitionsOf: (topic: string) => number): GroupAssignment {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const out: GroupAssignment = new Map(sorted.map((m) => [m.memberId, []]));
  const topics = [...new Set(sorted.flatMap((m) => m.topics))].sort();
  let turn = 0;
  for (const topic of topics) {
    const takers = sorted.filter((m) => m.topics.includes(topic));
    const n = partitionsOf(topic);
    if (takers.length === 0 || n === 0) continue;
    if (assignor === 'round-robin') {
      // kafkajs deals every topic from where the previous one stopped, over all members.
      for (let p = 0; p < n; p++) {
        let m = sorted[turn++ % sorted.length] as AssignorMember;
        while (!m.topics.includes(topic)) m = sorted[turn++ % sorted.length] as AssignorMember;
        (out.get(m.memberId) as TopicPartition[]).push({ topic, partition: p });
      }
    } else {
      const each = Math.floor(n / takers.length);
      const extra = n % takers.length;
      let p = 0;
      takers.forEach((m, i) => {
        const count = each + (i < extra ? 1 : 0);
        for (let k = 0; k < count; k++) (out.get(m.memberId) as TopicPartition[]).push({ topic, partition: p++ });
      });
    }
  }
  return out;
}
