/**
 * Producers over the memory broker. A plain (or idempotent) producer appends at once; there are
 * no retries here, so idempotence has nothing to de-duplicate. A transactional producer takes a
 * new epoch of its transactional id when it is created (fencing an older producer with that id
 * and aborting its open transaction, as the kafkajs adapter arranges), runs one transaction at a
 * time, and fails every call once a newer producer fenced it. Its records are in the log at once
 * but invisible to read_committed readers (and hold the last stable offset back) until the
 * commit marker; an abort leaves them in the log behind an abort marker.
 */
import type { KafkaProducer, KafkaTransaction, ProducerOptions, ProducerRecord, SentBatch, TopicPartitionOffset } from '../adapter.js';
import type { MemoryBroker } from './broker.js';
import { closed, crashed, MemoryKafkaError } from './errors.js';
import type { OpenTransaction } from './transactions.js';

/** What a send is, for fault matching and messages. */
function describeSend(records: ProducerRecord[]): { topics: string[]; what: string } {
  const topics = [...new Set(records.map((r) => r.topic))];
  return { topics, what: `send of ${records.length} records to ${topics.join(', ')}` };
}

export function createMemoryProducer(broker: MemoryBroker, clientId: string, options: ProducerOptions = {}): KafkaProducer {
  const incarnation = broker.incarnation(clientId);
  const transactionalId = options.transactionalId;
  const epoch = transactionalId === undefined ? -1 : broker.transactions.init(transactionalId);
  const timeoutMs = options.transactionTimeout ?? 60_000;
  let connected = true;
  let open: OpenTransaction | undefined;

  const usable = () => {
    if (broker.incarnation(clientId) !== incarnation) throw crashed(clientId);
    if (!connected) throw closed(`producer${transactionalId === undefined ? '' : ` ${transactionalId}`}`);
  };

  /** A send, with its fault: before it takes effect or (written) after. */
  const send = (records: ProducerRecord[], tx?: OpenTransaction): SentBatch[] => {
    const { topics, what } = describeSend(records);
    const fault = broker.fault('send', clientId, topics, what, tx !== undefined);
    if (fault && !fault.written) fault.fail();
    const sent = broker.append(records, tx);
    if (fault) fault.fail();
    return sent;
  };

  const transaction = (tx: OpenTransaction): KafkaTransaction => {
    const check = () => {
      usable();
      broker.transactions.ensureOpen(tx);
    };
    const end = (how: 'commit' | 'abort') => {
      usable();
      broker.transactions.check(tx.transactionalId, tx.epoch);
      if (tx.outcome.status !== 'open') {
        throw new MemoryKafkaError('INVALID_TXN_STATE', `memory kafka: cannot ${how} the transaction of ${tx.transactionalId}: it is already ${tx.outcome.status}`);
      }
      const fault = broker.fault(how === 'commit' ? 'txCommit' : 'txAbort', clientId, [...tx.partitions].map((l) => l.topic), `${how} of the transaction of ${tx.transactionalId}`, true);
      if (fault && !fault.written) fault.fail();
      broker.transactions.end(tx, how);
      if (open === tx) open = undefined;
      if (fault) fault.fail();
    };
    return {
      async send(records) {
        check();
        if (records.length === 0) return [];
        return send(records, tx);
      },
      async sendOffsets({ groupId, offsets }: { groupId: string; offsets: TopicPartitionOffset[] }) {
        check();
        const what = `sendOffsets of group ${groupId}: ${offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`).join(', ')}`;
        const fault = broker.fault('sendOffsets', clientId, offsets.map((o) => o.topic), what, true);
        if (fault && !fault.written) fault.fail();
        let group = tx.offsets.get(groupId);
        if (!group) tx.offsets.set(groupId, (group = new Map()));
        // The kafkajs adapter sends offsets without metadata (TxnOffsetCommit as kafkajs builds it).
        for (const o of offsets) group.set(`${o.topic}\u0000${o.partition}`, { topic: o.topic, partition: o.partition, offset: o.offset });
        if (fault) fault.fail();
      },
      commit: async () => end('commit'),
      abort: async () => end('abort'),
    };
  };

  return {
    async send(records) {
      usable();
      if (transactionalId !== undefined) {
        throw new MemoryKafkaError('INVALID_TXN_STATE', `memory kafka: producer ${transactionalId} is transactional: send inside a transaction()`);
      }
      if (records.length === 0) return [];
      return send(records);
    },
    async transaction() {
      usable();
      if (transactionalId === undefined) throw new Error('transaction(): the producer has no transactionalId');
      if (open && open.outcome.status === 'open') {
        throw new MemoryKafkaError('INVALID_TXN_STATE', `memory kafka: producer ${transactionalId} already has an open transaction (one at a time)`);
      }
      open = broker.transactions.begin(transactionalId, epoch, timeoutMs);
      return transaction(open);
    },
    async disconnect() {
      // An open transaction stays open (it blocks read_committed readers) until a producer with
      // the same id fences it or it times out, as on a broker.
      connected = false;
    },
  };
}
