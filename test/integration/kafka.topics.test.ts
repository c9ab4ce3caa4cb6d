// ensureTopics against the real broker: the internal topics of a compiled pipeline with their
// configs (read back with plain kafkajs describeConfigs), idempotence, and the message for an
// existing topic that does not fit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { createKafkaJsAdapter, type KafkaAdapter } from '../../lib/runtime/kafka/client.js';
import { ensureTopics, planTopics } from '../../lib/runtime/kafka/topics.js';
import { defaultRegistry } from '../../operators/index.js';
import { createTopic, deleteTopics, kafkaBrokers, kafkaClient, skipReason, uniqueName } from '../support/kafka.js';

const skip = kafkaBrokers() ? false : skipReason();

const adapter = (): KafkaAdapter => createKafkaJsAdapter({ brokers: kafkaBrokers() ?? [], clientId: 'tributary-it', logLevel: 'nothing' });

/** A two-sub-topology pipeline named `app` reading `source`: two stores, one repartition topic. */
function topology(app: string, source: string) {
  const yaml = `name: ${app}\nsource: { topic: ${source}, key: anonymousId }\nsteps:\n  - dedupe: {}\n  - dedupe: { key: properties.orderId, output: duplicates }\n`;
  return compilePipeline(parsePipeline(yaml, 'p.yaml', defaultRegistry), defaultRegistry);
}

/** Partition count and the named configs of `topics`, read with plain kafkajs. */
async function readBack(topics: string[], configNames: string[]): Promise<Record<string, Record<string, string | number | undefined>>> {
  const admin = kafkaClient('tributary-it-readback').admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames })),
    });
    return Object.fromEntries(topics.map((name) => {
      const partitions = metadata.topics.find((t) => t.name === name)?.partitions.length;
      const entries = configs.resources.find((r) => r.resourceName === name)?.configEntries ?? [];
      return [name, { partitions, ...Object.fromEntries(entries.map((e) => [e.configName, e.configValue])) }];
    }));
  } finally {
    await admin.disconnect();
  }
}

test('ensureTopics creates compacted changelogs, the repartition topic and the outputs with the source partition count; again it creates nothing',
  { skip, timeout: 90_000 }, async (t) => {
    const app = uniqueName('it-topics');
    const source = await createTopic(`${app}-in`, { partitions: 2 });
    const plan = planTopics(topology(app, source), 2);
    const names = plan.topics.map((x) => x.name);
    t.after(() => deleteTopics(source, ...names));
    const kafka = adapter();

    const first = await ensureTopics(kafka, plan);
    assert.deepEqual(first, { created: names, existing: [] });
    const policies = ['cleanup.policy', 'retention.ms'];
    const back = await readBack(names, policies);
    const retention = back[`${app}-dead-letter`]?.['retention.ms']; // the broker default
    assert.deepEqual(back, {
      [`${app}-dedupe-0.seen-changelog`]: { partitions: 2, 'cleanup.policy': 'compact', 'retention.ms': retention },
      [`${app}-dedupe-1-repartition`]: { partitions: 2, 'cleanup.policy': 'delete', 'retention.ms': '-1' },
      [`${app}-dedupe-1.seen-changelog`]: { partitions: 2, 'cleanup.policy': 'compact', 'retention.ms': retention },
      // each sub-topology's task store (watermarks), change-logged like the steps' stores
      [`${app}-_task.s0-changelog`]: { partitions: 2, 'cleanup.policy': 'compact', 'retention.ms': retention },
      [`${app}-_task.s1-changelog`]: { partitions: 2, 'cleanup.policy': 'compact', 'retention.ms': retention },
      [`${app}-events`]: { partitions: 2, 'cleanup.policy': 'delete', 'retention.ms': retention },
      [`${app}-dead-letter`]: { partitions: 2, 'cleanup.policy': 'delete', 'retention.ms': retention },
      [`${app}-late`]: { partitions: 2, 'cleanup.policy': 'delete', 'retention.ms': retention },
      [`${app}-forgotten`]: { partitions: 2, 'cleanup.policy': 'delete', 'retention.ms': retention },
      [`${app}-duplicates`]: { partitions: 2, 'cleanup.policy': 'delete', 'retention.ms': retention },
    });

    // Leaders are there: a changelog takes writes at once, to both partitions.
    const producer = await kafka.producer();
    try {
      await producer.send([0, 1].map((partition) => ({
        topic: `${app}-dedupe-0.seen-changelog`, partition, key: Buffer.from(`k${partition}`), value: Buffer.from('1'),
      })));
    } finally {
      await producer.disconnect();
    }

    const second = await ensureTopics(kafka, plan);
    assert.deepEqual(second, { created: [], existing: names });
    assert.deepEqual(await readBack(names, policies), back, 'nothing changed');
  });

test('an existing internal topic with the wrong partitions or cleanup policy fails with a clear message and nothing is created',
  { skip, timeout: 90_000 }, async (t) => {
    const app = uniqueName('it-topics-bad');
    const source = await createTopic(`${app}-in`, { partitions: 3 });
    const plan = planTopics(topology(app, source), 3);
    t.after(() => deleteTopics(source, ...plan.topics.map((x) => x.name)));
    await createTopic(`${app}-dedupe-1-repartition`, { partitions: 1 });
    await createTopic(`${app}-dedupe-0.seen-changelog`, { partitions: 3 }); // cleanup.policy=delete
    const kafka = adapter();

    await assert.rejects(ensureTopics(kafka, plan), {
      message: `pipeline ${app}: existing changelog topic ${app}-dedupe-0.seen-changelog (for dedupe-0.seen) has cleanup.policy=delete, needs compact; `
        + `existing repartition topic ${app}-dedupe-1-repartition (for dedupe-1) has 1 partitions, needs 3. Delete the topic or change the pipeline.`,
    });
    const admin = await kafka.admin();
    try {
      const present = (await admin.describeTopics(plan.topics.map((x) => x.name))).map((d) => d.name).sort();
      assert.deepEqual(present, [`${app}-dedupe-0.seen-changelog`, `${app}-dedupe-1-repartition`], 'nothing else was created');
    } finally {
      await admin.disconnect();
    }
  });
