// How the memory broker splits a group's partitions: kafkajs's round-robin (every subscribed
// partition, topics sorted, dealt out over the members sorted by id) and the Java client's range
// (per topic, consecutive partitions, the first members one more). Members may subscribe to
// different topics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignPartitions, type AssignorName } from '../../../lib/runtime/kafka/memory/assignors.js';

const counts: Record<string, number> = { a: 3, b: 2, c: 1 };
const partitionsOf = (topic: string) => counts[topic] ?? 0;
const show = (assignor: AssignorName, members: Array<[string, string[]]>) =>
  Object.fromEntries([...assignPartitions(assignor, members.map(([memberId, topics]) => ({ memberId, topics })), partitionsOf)]
    .map(([id, tps]) => [id, tps.map((tp) => `${tp.topic}${tp.partition}`).join(' ')]));

const cases: Array<{ assignor: AssignorName; members: Array<[string, string[]]>; want: Record<string, string> }> = [
  { assignor: 'round-robin', members: [['m2', ['a', 'b']], ['m1', ['a', 'b']]], want: { m1: 'a0 a2 b1', m2: 'a1 b0' } },
  { assignor: 'range', members: [['m2', ['a', 'b']], ['m1', ['a', 'b']]], want: { m1: 'a0 a1 b0', m2: 'a2 b1' } },
  { assignor: 'round-robin', members: [['m1', ['a', 'c']], ['m2', ['a']], ['m3', ['a', 'b', 'c']]], want: { m1: 'a0 c0', m2: 'a1', m3: 'a2 b0 b1' } },
  { assignor: 'range', members: [['m1', ['a', 'c']], ['m2', ['a']], ['m3', ['a', 'b', 'c']]], want: { m1: 'a0 c0', m2: 'a1', m3: 'a2 b0 b1' } },
  { assignor: 'round-robin', members: [['m1', ['c']], ['m2', ['c']]], want: { m1: 'c0', m2: '' } },
  { assignor: 'range', members: [['m1', ['missing']]], want: { m1: '' } },
];

for (const c of cases) {
  test(`${c.assignor}: ${c.members.map(([id, topics]) => `${id}[${topics.join(',')}]`).join(' ')}`, () => {
    assert.deepEqual(show(c.assignor, c.members), c.want);
  });
}
