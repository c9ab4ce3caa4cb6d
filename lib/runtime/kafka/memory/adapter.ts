/**
 * The {@link KafkaAdapter} over the memory broker, and `createMemoryKafka()`, which makes both:
 * the runner (or any code written against the adapter) runs unchanged, in one process, in
 * milliseconds. Each `adapter(clientId)` is one client (one process, for {@link MemoryBroker.crash}).
 */
import type { ConsumedRecord, KafkaAdapter, KafkaAdmin, PartitionOffset, ReadPartitionOptions, TopicDescription } from '../adapter.js';
import { MemoryBroker, toConsumed, type MemoryBrokerOptions } from './broker.js';
import { MemoryConsumer } from './consumer.js';
import { closed, crashed, MemoryKafkaError, unknownTopic } from './errors.js';
import { createMemoryProducer } from './producer.js';

/** The id of the one broker in the model: every partition's leader and only replica. */
const BROKER_ID = 1;

export interface MemoryKafka {
  /** The broker model: faults, crashes, inspection. */
  readonly broker: MemoryBroker;
  /** A client of the broker (one per simulated process; default client id `tributary`). */
  adapter(clientId?: string): KafkaAdapter;
}

/**
 * An in-memory Kafka: a broker model and adapters over it.
 *
 * @example
 * ```ts
 * const kafka = createMemoryKafka();
 * const admin = await kafka.adapter().admin();
 * await admin.createTopics([{ name: 'shop-events', partitions: 3 }]);
 * await admin.disconnect();
 * const summary = await runKafka({ topology, adapter: kafka.adapter('shop'), stateDir, bounded: true });
 * kafka.broker.records('shop-sessions'); // what the run wrote, read_committed
 * ```
 */
export function createMemoryKafka(options: MemoryBrokerOptions = {}): MemoryKafka {
  const broker = new MemoryBroker(options);
  return { broker, adapter: (clientId = 'tributary') => createMemoryAdapter(broker, clientId) };
}

/** A client of `broker` with id `clientId`. */
export function createMemoryAdapter(broker: MemoryBroker, clientId: string): KafkaAdapter {
  return {
    admin: async () => createAdmin(broker, clientId),
    producer: async (options) => createMemoryProducer(broker, clientId, options),
    consumer: async (options) => new MemoryConsumer(broker, { ...options, clientId }),
    readPartition: (topic, partition, options) => readPartition(broker, clientId, topic, partition, options),
  };
}

function createAdmin(broker: MemoryBroker, clientId: string): KafkaAdmin {
  const incarnation = broker.incarnation(clientId);
  let connected = true;
  const usable = () => {
    if (broker.incarnation(clientId) !== incarnation) throw crashed(clientId);
    if (!connected) throw closed('admin');
  };
  const topicOf = (name: string) => {
    const t = broker.topic(name);
    if (!t) throw unknownTopic(name);
    return t;
  };
  return {
    async listTopics() {
      usable();
      return broker.topicNames();
    },
    async createTopics(specs) {
      usable();
      return specs.filter((s) => broker.createTopic(s)).map((s) => s.name);
    },
    async describeTopics(names): Promise<TopicDescription[]> {
      usable();
      return names.flatMap((name) => {
        const t = broker.topic(name);
        if (!t) return [];
        return [{ name, partitions: t.logs.map((l) => ({ partition: l.partition, leader: BROKER_ID, replicas: [BROKER_ID] })), configs: { ...t.configs } }];
      });
    },
    async deleteTopics(names) {
      usable();
      for (const name of names) broker.deleteTopic(name);
    },
    async fetchOffsets(groupId, topic): Promise<PartitionOffset[]> {
      usable();
      const fault = broker.fault('fetchOffsets', clientId, [topic], `fetchOffsets of group ${groupId} on ${topic}`);
      if (fault) fault.fail();
      return broker.committed(groupId, topic);
    },
    async endOffsets(topic) {
      usable();
      const fault = broker.fault('endOffsets', clientId, [topic], `endOffsets of ${topic}`);
      if (fault) fault.fail();
      broker.transactions.expire();
      return topicOf(topic).logs.map((l) => ({ partition: l.partition, low: String(l.low()), high: String(l.lastStable()) }));
    },
    async deleteRecords(topic, offsets) {
      usable();
      const t = topicOf(topic);
      for (const o of offsets) {
        const log = t.logs[o.partition];
        if (!log) throw unknownTopic(topic, o.partition);
        const to = o.offset === '-1' ? log.high() : Number(o.offset);
        if (!Number.isInteger(to) || to < 0 || to > log.high()) {
          throw new MemoryKafkaError('OFFSET_OUT_OF_RANGE', `memory kafka: deleteRecords ${topic}/${o.partition} before ${o.offset}: the log ends at ${log.high()}`);
        }
        log.deleteBefore(to);
      }
      broker.changed();
    },
    async groupMembers(groupId) {
      usable();
      return broker.groupMembers(groupId);
    },
    async setOffsets(groupId, topic, offsets) {
      usable();
      topicOf(topic);
      const members = broker.groupMembers(groupId);
      if (members.length > 0) {
        throw new MemoryKafkaError('NON_EMPTY_GROUP', `memory kafka: group ${groupId} has ${members.length} active member(s); offsets can only be set while it is empty`);
      }
      broker.group(groupId).commit(offsets.map((o) => ({ topic, partition: o.partition, offset: o.offset })));
    },
    async offsetsForTime(topic, timestamp) {
      usable();
      return topicOf(topic).logs.map((l) => {
        const first = l.all().find((e) => !e.control && e.offset >= l.low() && e.timestamp >= timestamp);
        return { partition: l.partition, offset: String(first?.offset ?? l.high()) };
      });
    },
    async disconnect() {
      connected = false;
    },
  };
}

/**
 * {@link KafkaAdapter.readPartition}: the partition's records from `from` through `upTo`
 * (read_committed by default: never past the last stable offset, aborted records and markers
 * skipped but passed), ending once the position passes `upTo`; with `follow`, until it aborts.
 * Waits on the broker's change signal when there is nothing to read yet.
 */
async function* readPartition(broker: MemoryBroker, clientId: string, topic: string, partition: number, options: ReadPartitionOptions): AsyncGenerator<ConsumedRecord> {
  const incarnation = broker.incarnation(clientId);
  const follow = options.follow;
  const readCommitted = options.readCommitted ?? true;
  const upTo = follow ? undefined : Number(options.upTo);
  if (follow?.aborted || (upTo !== undefined && upTo < 0)) return;
  let position = options.from === 'earliest' ? broker.log(topic, partition).low() : Number(options.from);
  if (upTo !== undefined && position > upTo) return;
  for (;;) {
    if (broker.incarnation(clientId) !== incarnation) throw crashed(clientId);
    broker.transactions.expire();
    const log = broker.log(topic, partition);
    const r = log.fetch(position, { readCommitted, maxBytes: 2 << 20, ...(upTo === undefined ? {} : { upTo }) });
    for (const e of r.records) {
      if (follow?.aborted) return;
      yield toConsumed(log, e);
    }
    const moved = r.end !== position;
    position = r.end;
    if (upTo !== undefined && position > upTo) return;
    if (follow?.aborted) return;
    if (!moved) await broker.nextChange(follow);
  }
}
