/**
 * The errors the in-memory broker answers with, shaped like kafkajs's protocol errors (`type`
 * is Kafka's error code name, `retriable` as Kafka says), so code that inspects them behaves as
 * it would against a broker.
 */

/** An error of the in-memory Kafka model. */
export class MemoryKafkaError extends Error {
  /** Kafka's name of the error, e.g. `UNKNOWN_TOPIC_OR_PARTITION`, or `INJECTED` for a test fault. */
  readonly type: string;
  readonly retriable: boolean;

  constructor(type: string, message: string, retriable = false) {
    super(message);
    this.name = 'MemoryKafkaError';
    this.type = type;
    this.retriable = retriable;
  }
}

export const unknownTopic = (topic: string, partition?: number): MemoryKafkaError =>
  new MemoryKafkaError('UNKNOWN_TOPIC_OR_PARTITION', partition === undefined
    ? `memory kafka: topic ${topic} does not exist (create it with admin.createTopics first; topics are never auto-created)`
    : `memory kafka: topic ${topic} has no partition ${partition}`, true);

export const fenced = (transactionalId: string): MemoryKafkaError =>
  new MemoryKafkaError('PRODUCER_FENCED', `memory kafka: producer of transactional id ${transactionalId} was fenced by a newer one with the same id`);

export const closed = (what: string): MemoryKafkaError =>
  new MemoryKafkaError('NOT_CONNECTED', `memory kafka: ${what} is disconnected`);

export const crashed = (clientId: string): MemoryKafkaError =>
  new MemoryKafkaError('NETWORK_EXCEPTION', `memory kafka: client ${clientId} crashed (broker.crash)`, true);
