/**
 * The Kafka client on kafkajs 2.2.x: `createKafkaJsAdapter` implements the runtime's one small
 * client interface (`adapter.ts`: admin for internal topics and offsets, a (transactional)
 * producer, a group consumer that hands over batches per partition with pause/resume and
 * assignment callbacks, a partition reader: `kafkajs-read-partition.ts`). The in-memory Kafka
 * (`memory/`) is the other implementation.
 *
 * kafkajs behaviours this layer pins down (each cost someone an afternoon):
 * - Metadata requests auto-create topics when `allowAutoTopicCreation` is true (the kafkajs
 *   default for producers and consumers): both are created with it off, so a missing output or
 *   internal topic is an error instead of a one-partition topic with default configs.
 * - `eachBatchAutoResolve` (default true) marks the whole batch consumed when `eachBatch`
 *   returns, and `autoCommit` commits in the background: both are off. The runner resolves
 *   what it processed and commits explicitly with {@link KafkaConsumer.commit} or in a
 *   transaction with {@link KafkaTransaction.sendOffsets}; committed offsets are "next to read"
 *   (last processed + 1).
 * - `pause()` takes effect for the next fetch only: the batch in hand is still delivered. A
 *   handler that pauses its own partition should stop at once (`batch.pause()` returns the
 *   resume function) and not resolve the rest: after resume, fetching restarts at the first
 *   unresolved record, so nothing is lost or seen twice (tested). `pause()` before `run()`
 *   throws in kafkajs; pause in `onAssign`, which runs before the first fetch (tested).
 * - kafkajs has only the eager rebalance protocol and no rebalance listener: instrumentation
 *   events are not awaited. Assignment callbacks here come from `GROUP_JOIN` (the member's full
 *   assignment after every join/sync); revocations are the partitions of the previous
 *   assignment missing from the new one, reported before the new assignment, plus everything
 *   on disconnect (and all of it when the member id changed: a member the coordinator dropped
 *   joins again as a new one). They are notifications after the fact: commits for revoked
 *   partitions fail (REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION), so the runner must commit
 *   after every batch, not on revoke.
 * - kafkajs keeps `pause()` state apart from the assignment: a paused partition that moves away
 *   and comes back is still paused. The runner should resume what it paused on revoke.
 * - Batches holding only aborted records or transaction markers never reach `eachBatch`: kafkajs
 *   resolves them itself but (autoCommit off) does not commit them, so a group's committed
 *   offset can stay behind the end offset by the markers. Lag = end − committed overstates by that.
 * - kafkajs runs InitProducerId for a transactional id twice: at connect (idempotent manager)
 *   and again at the producer's first `transaction()`. So an older producer that begins its
 *   first transaction after a newer one connected bumps the epoch again and fences the NEWER
 *   one. `producer()` begins and aborts an empty transaction, so the epoch is taken once, when
 *   the producer is created, and a zombie's later transactions fail (tested).
 * - Transactions need `idempotent: true` and `maxInFlightRequests: 1`; one transaction at a time
 *   per producer; no KIP-447 group-metadata fencing, so the runner uses one transactional id
 *   per task (input partition).
 * - The default partitioner is set explicitly (murmur2, Java-compatible) to silence the v2
 *   partitioner warning and to place keys where Java clients do.
 */
import kafkajs, {
  type Consumer,
  type Producer,
  type Transaction,
} from 'kafkajs';

import { kafkajsConfig, type KafkaJsAdapterOptions } from './connection.js';
import { wrapAdmin } from './kafkajs-admin.js';
import { readPartition } from './kafkajs-read-partition.js';
import { connected, flatten, key, offsetsByTopic, partitionsByTopic, sent, toHeaders, topicMessages } from './kafkajs-shapes.js';
import type { TopicPartition, ConsumedRecord, KafkaTransaction, KafkaProducer, KafkaConsumer, KafkaAdapter } from './adapter.js';

// kafkajs is CommonJS: Node's ESM loader finds only some of its exports by name; take them from the default export.
const { CompressionTypes, Kafka, Partitioners } = kafkajs;
type CompressionTypes = kafkajs.CompressionTypes;

export type { TopicPartition, TopicPartitionOffset, ProducerRecord, ConsumedRecord, ConsumedBatch, SentBatch, ReadPartitionOptions, PartitionOffset, PartitionWatermarks, TopicSpec, TopicDescription, KafkaAdmin, KafkaTransaction, ProducerOptions, KafkaProducer, ConsumerOptions, KafkaConsumer, KafkaAdapter } from './adapter.js';

export type { KafkaLogLevelName } from './kafkajs-log.js';
export type { KafkaJsAdapterOptions, KafkaSecurity } from './connection.js';

function wrapTransaction(tx: Transaction, compression: CompressionTypes): KafkaTransaction {
  return {
    async send(records) {
      if (records.length === 0) return [];
      return sent(await tx.sendBatch({ topicMessages: topicMessages(records), compression }));
    },
    async sendOffsets({ groupId, offsets }) {
      await tx.sendOffsets({ consumerGroupId: groupId, topics: offsetsByTopic(offsets) });
    },
    commit: () => tx.commit(),
    abort: () => tx.abort(),
  };
}

function wrapProducer(producer: Producer, compression: CompressionTypes, transactional: boolean): KafkaProducer {
  return {
    async send(records) {
      if (records.length === 0) return [];
      return sent(await producer.sendBatch({ topicMessages: topicMessages(records), acks: -1, compression }));
    },
    async transaction() {
      if (!transactional) throw new Error('transaction(): the producer has no transactionalId');
      return wrapTransaction(await producer.transaction(), compression);
    },
    disconnect: () => producer.disconnect(),
  };
}

function wrapConsumer(consumer: Consumer): KafkaConsumer {
  let current: TopicPartition[] = [];
  const assignListeners: Array<(p: TopicPartition[]) => void> = [];
  const revokeListeners: Array<(p: TopicPartition[]) => void> = [];
  const crashListeners: Array<(e: Error) => void> = [];
  const notify = <T>(listeners: Array<(v: T) => void>, value: T) => {
    for (const l of listeners) l(value);
  };
  let member: string | undefined;
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const next = flatten(event.payload.memberAssignment);
    // Joined as a new member (the coordinator had dropped the old one, or kafkajs restarted the
    // consumer): what the old member held may have been processed elsewhere meanwhile, and
    // fetching restarts at the committed offsets, so all of it is revoked and the new assignment
    // is assigned in full.
    const rejoined = member !== undefined && event.payload.memberId !== member;
    member = event.payload.memberId;
    const before = new Set(rejoined ? [] : current.map(key));
    const after = new Set(rejoined ? [] : next.map(key));
    const revoked = current.filter((tp) => !after.has(key(tp)));
    const assigned = next.filter((tp) => !before.has(key(tp)));
    current = next;
    if (revoked.length > 0) notify(revokeListeners, revoked);
    if (assigned.length > 0) notify(assignListeners, assigned);
  });
  consumer.on(consumer.events.CRASH, (event) => {
    // restart: true means kafkajs rejoins by itself (and GROUP_JOIN follows)
    if (!event.payload.restart) notify(crashListeners, event.payload.error);
  });
  return {
    async subscribe(topics, options = {}) {
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? false });
    },
    async run({ eachBatch }) {
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
          const records = batch.messages.map((m): ConsumedRecord => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            headers: toHeaders(m.headers),
            timestamp: Number(m.timestamp),
          }));
          if (records.length === 0) return; // kafkajs hands over empty batches (e.g. aborted transactions only)
          await eachBatch({
            topic: batch.topic,
            partition: batch.partition,
            records,
            highWatermark: batch.highWatermark,
            resolveOffset,
            heartbeat,
            isRunning,
            isStale,
            pause,
          });
        },
      });
    },
    pause: (partitions) => consumer.pause(partitionsByTopic(partitions)),
    resume: (partitions) => consumer.resume(partitionsByTopic(partitions)),
    paused: () => consumer.paused().flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))),
    assignment: () => [...current],
    onAssign: (l) => { assignListeners.push(l); },
    onRevoke: (l) => { revokeListeners.push(l); },
    onCrash: (l) => { crashListeners.push(l); },
    async commit(offsets) {
      if (offsets.length > 0) await consumer.commitOffsets(offsets.map((o) => ({ ...o })));
    },
    seek: (o) => consumer.seek(o),
    async disconnect() {
      await consumer.disconnect();
      const revoked = current;
      current = [];
      if (revoked.length > 0) notify(revokeListeners, revoked);
    },
  };
}


/**
 * The kafkajs adapter.
 *
 * @example
 * ```ts
 * const kafka = createKafkaJsAdapter({ brokers: ['localhost:9092'], clientId: 'shop' });
 * const producer = await kafka.producer();
 * await producer.send([{ topic: 'shop-events', key: Buffer.from('u1'), value: Buffer.from('{}') }]);
 * await producer.disconnect();
 * ```
 */
export function createKafkaJsAdapter(options: KafkaJsAdapterOptions): KafkaAdapter {
  const kafka = new Kafka(kafkajsConfig(options));
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  return {
    async admin() {
      const admin = kafka.admin();
      await connected(admin, () => admin.connect());
      return wrapAdmin(admin);
    },
    async producer(opts = {}) {
      const transactional = opts.transactionalId !== undefined;
      const producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: transactional || (opts.idempotent ?? false),
        ...(transactional ? { transactionalId: opts.transactionalId, maxInFlightRequests: 1 } : {}),
        ...(opts.transactionTimeout === undefined ? {} : { transactionTimeout: opts.transactionTimeout }),
      });
      await connected(producer, async () => {
        await producer.connect();
        if (transactional) {
          // kafkajs calls InitProducerId again at the first transaction() (an older producer would fence a newer one): take the epoch now.
          const tx = await producer.transaction();
          await tx.abort();
        }
      });
      return wrapProducer(producer, compression, transactional);
    },
    async consumer(opts) {
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        allowAutoTopicCreation: false,
        readUncommitted: !(opts.readCommitted ?? true),
        sessionTimeout: opts.sessionTimeout ?? 30_000,
        rebalanceTimeout: opts.rebalanceTimeout ?? 60_000,
        heartbeatInterval: opts.heartbeatInterval ?? 3_000,
        maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 500,
        maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      });
      await connected(consumer, () => consumer.connect());
      return wrapConsumer(consumer);
    },
    readPartition: (topic, partition, opts) => readPartition(kafka, options.clientId ?? 'tributary', topic, partition, opts),
  };
}
