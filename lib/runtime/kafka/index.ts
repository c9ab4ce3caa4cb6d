/** The Kafka runtime: the client adapter and the topics a compiled pipeline needs. */
export * from './client.js';
export * from './topics.js';
