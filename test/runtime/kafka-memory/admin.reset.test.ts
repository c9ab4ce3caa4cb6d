// The admin operations the application reset tool (`tributary reset`) needs, on the in-memory
// Kafka as on a real broker (test/integration/cli.kafka-tools.test.ts runs them there through the
// CLI): a group's members, setting its offsets (refused while it has members), offsets for a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryKafka } from '../../../lib/runtime/kafka/memory/index.js';

test('groupMembers, setOffsets (refused while the group has members) and offsetsForTime', async () => {
  const kafka = createMemoryKafka();
  const admin = await kafka.adapter('admin').admin();
  await admin.createTopics([{ name: 'events', partitions: 2 }]);
  const producer = await kafka.adapter('p').producer();
  await producer.send([
    ...[1000, 2000, 3000].map((timestamp) => ({ topic: 'events', partition: 0, key: null, value: Buffer.from('x'), timestamp })),
    { topic: 'events', partition: 1, key: null, value: Buffer.from('y'), timestamp: 1500 },
  ]);
  await producer.disconnect();

  const at = async (t: number) => (await admin.offsetsForTime('events', t)).map((o) => o.offset);
  assert.deepEqual(await at(0), ['0', '0']);
  assert.deepEqual(await at(2000), ['1', '1'], 'p1 has nothing at or after 2000: its end offset');
  assert.deepEqual(await at(2001), ['2', '1']);
  assert.deepEqual(await at(10_000), ['3', '1']);

  assert.deepEqual(await admin.groupMembers('g'), []);
  const consumer = await kafka.adapter('c').consumer({ groupId: 'g' });
  await consumer.subscribe(['events']);
  await consumer.run({ eachBatch: async () => {} });
  assert.equal((await admin.groupMembers('g')).length, 1);
  await assert.rejects(admin.setOffsets('g', 'events', [{ partition: 0, offset: '0' }]), /group g has 1 active member/);
  await consumer.disconnect();
  assert.deepEqual(await admin.groupMembers('g'), []);

  await admin.setOffsets('g', 'events', [{ partition: 0, offset: '2' }, { partition: 1, offset: '0' }]);
  assert.deepEqual((await admin.fetchOffsets('g', 'events')).map((o) => o.offset), ['2', '0']);
  await admin.disconnect();
});
