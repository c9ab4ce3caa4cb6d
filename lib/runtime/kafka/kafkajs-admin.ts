/**
 * The kafkajs admin client behind {@link KafkaAdmin} (see `client.ts` for the adapter and the
 * kafkajs behaviours it pins down).
 */
import kafkajs, { type Admin } from 'kafkajs';
import type { KafkaAdmin, TopicDescription } from './adapter.js';

// kafkajs is CommonJS: ConfigResourceTypes is only on its default export.
const { ConfigResourceTypes } = kafkajs;

export function wrapAdmin(admin: Admin): KafkaAdmin {
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
    async groupMembers(groupId) {
      const { groups } = await admin.describeGroups([groupId]);
      return (groups[0]?.members ?? []).map((m) => m.memberId).sort();
    },
    async setOffsets(groupId, topic, offsets) {
      await admin.setOffsets({ groupId, topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) });
    },
    async offsetsForTime(topic, timestamp) {
      const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
      return offsets.map((o) => ({ partition: o.partition, offset: o.offset })).sort((a, b) => a.partition - b.partition);
    },
    disconnect: () => admin.disconnect(),
  };
}
