// Forgetting a person through Kafka on a real broker (the same scenario as the memory-broker test,
// test/support/forget-kafka.ts): the request is sent by `tributary forget --brokers` to every
// partition of the source topic while the pipeline runs; afterwards no task's LMDB store and no
// latest changelog value holds the person, nor does a fresh instance restored from the changelogs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipelineTopics } from '../../lib/cli/kafka-tools.js';
import { tributary } from '../support/cli.js';
import { forgetScenario } from '../support/forget-kafka.js';
import { testAdapter } from '../support/kafka-pipeline.js';
import { createTopic, deleteTopics, kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();
const PARTITIONS = 3;

test('cart-abandonment: tributary forget --brokers mid-run erases the person from every store and changelog, and from a fresh restore', { skip, timeout: 300_000 }, async (t) => {
  const adapter = testAdapter();
  await forgetScenario({
    adapter, dir: tempDir(), partitions: PARTITIONS, tickMs: 100,
    onPipeline: (p) => t.after(() => deleteTopics(...pipelineTopics(p.topology, PARTITIONS).map((x) => x.name))),
    createSource: async (topic, partitions) => {
      await createTopic(topic, { partitions });
    },
    sendForget: async (p, userId, requestId) => {
      const r = tributary(['forget', p.file, '--brokers', (kafkaBrokers() ?? []).join(','), '--identifier', `userId:${userId}`, '--request-id', requestId, '--requested-by', 'dpo@example.com']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `sent forget request ${requestId} to all ${PARTITIONS} partitions of ${p.source}: each task of the pipeline applies it and writes its audit record to ${p.topics.forgotten}\n`);
    },
  });
});
