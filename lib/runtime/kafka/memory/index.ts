/** The in-memory Kafka: a broker model and a {@link KafkaAdapter} over it, for tests without a broker. */
export { createMemoryKafka, createMemoryAdapter, type MemoryKafka } from './adapter.js';
export { MemoryBroker, DEFAULT_TOPIC_CONFIGS, type MemoryBrokerOptions, type MemoryTopic } from './broker.js';
export { MemoryKafkaError } from './errors.js';
export type { Fault, FaultOp, FaultOptions } from './faults.js';
export type { AssignorName } from './assignors.js';
export { murmur2, partitionForKey } from '../partitioner.js';
