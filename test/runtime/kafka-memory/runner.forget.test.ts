// Forgetting a person through the Kafka runtime over the memory broker (test/support/forget-kafka.ts;
// test/integration/kafka.forget.test.ts runs the same on a real broker).
import { test } from 'node:test';
import { createMemoryKafka } from '../../../lib/runtime/kafka/memory/index.js';
import { forgetEvent } from '../../../lib/runtime/forget-offline.js';
import { forgetScenario } from '../../support/forget-kafka.js';
import { tempDir } from '../../support/tmp.js';

test('cart-abandonment over 3 partitions: a forget request on every source partition erases the person from every task\'s store and every changelog; a fresh restore holds nothing of them', { timeout: 120_000 }, async () => {
  const kafka = createMemoryKafka();
  const adapter = kafka.adapter('forget');
  await forgetScenario({
    adapter, dir: tempDir('tributary-forget-'), partitions: 3, tickMs: 20,
    createSource: async (topic, partitions) => {
      const admin = await adapter.admin();
      await admin.createTopics([{ name: topic, partitions }]);
      await admin.disconnect();
    },
    sendForget: async (p, userId, requestId) => {
      const producer = await adapter.producer({ idempotent: true });
      const value = Buffer.from(JSON.stringify(forgetEvent({ identifiers: [{ field: 'userId', value: userId }], personIds: [] }, requestId, 0)));
      await producer.send([0, 1, 2].map((partition) => ({ topic: p.source, key: Buffer.from(requestId), value, partition })));
      await producer.disconnect();
    },
  });
});
