/**
 * Tributary: behavioral stream pipelines. The library entry point; operators are in
 * `tributary/operators`, the test driver in `tributary/testing`.
 */
export type { TributaryEvent, EventType, EventContext } from './event/event.js';
export type { SourceMapping, SourceFormat, RejectReason, TimestampFormat } from './event/mapping.js';
export { normalizeEvent, createNormalizer } from './event/normalize.js';
export { resolveKey } from './event/key.js';
export { parseDuration, formatDuration, type Duration } from './time/duration.js';
export { systemClock, ManualClock, type Clock } from './time/clock.js';
export { WatermarkTracker } from './time/watermark.js';
export { MemoryTimers, TimerFailures, type Timer, type TimerFailure } from './time/timers.js';
export type { KeyValueStore, StoreFactory, StoreKey, RangeOptions, PutOptions, Entry } from './state/store.js';
export { MemoryStore, MemoryStoreFactory } from './state/engines/memory.js';
export { LmdbStoreFactory } from './state/engines/lmdb/env.js';
export { LmdbStore } from './state/engines/lmdb/store.js';
export type { OperatorDefinition, OperatorLogic, OperatorContext, OperatorRegistry, DerivedRecord, OutputDeclaration } from './operator/contract.js';
export { defineOperator } from './operator/contract.js';
export { keyedOperator, operate, type RxWiringOptions, type SideOutput } from './operator/rx.js';
export { deriveId } from './operator/ids.js';
export { pipeline, PipelineBuilder, type StepOptionsMap } from './pipeline/builder.js';
export type { PipelineDefinition, SourceDefinition, StepDefinition, StreamTarget } from './pipeline/definition.js';
export { parsePipeline, loadPipelineFile, validatePipeline } from './pipeline/load.js';
export { DefinitionError, formatIssue, type DefinitionIssue } from './pipeline/errors.js';
export { compilePipeline, describeTopology, type Topology, type CompiledStep, type CompiledStream } from './pipeline/compile.js';
export { buildPipelineSchema } from './pipeline/schema.js';
export { Task, ProcessingError, type SourceInput, type DeadLetterRecord } from './runtime/task.js';
export { CachingStoreFactory, DEFAULT_CACHE_BYTES, type CachingStoreFactoryOptions } from './state/caching.js';
export { CachingStore } from './state/caching-store.js';
export { runEmbedded, formatSummary, type EmbeddedRunOptions, type RunSummary } from './runtime/embedded.js';
export { runKafka, formatKafkaSummary, type KafkaRunOptions, type KafkaRunSummary } from './runtime/kafka/runner.js';
export { createKafkaJsAdapter, type KafkaAdapter, type KafkaJsAdapterOptions, type KafkaSecurity, type ConsumedRecord, type ProducerRecord } from './runtime/kafka/client.js';
export { createMetrics, type PipelineMetrics } from './metrics/metrics.js';
export { metricsCatalogue, metricsTable, type MetricDoc } from './metrics/catalogue.js';
export { createStateServer, StateNotFound, type StateServer, type StateServerOptions } from './runtime/state-server.js';
export { locateKey } from './runtime/kafka/queries.js';
export { encodeAvroEvent, decodeAvroEvent } from './serde/avro-event-codec.js';
export { avroEventSchema, avroEventType } from './serde/avro-event-schema.js';
export { frameConfluent, unframeConfluent } from './serde/confluent-wire.js';
export { SchemaRegistryClient } from './serde/schema-registry.js';
export { createOpsServer, opsHandler, Liveness, livenessOf, type OpsOptions, type OpsServer, type Probe } from './runtime/ops-server.js';
export { generateEvents, writeEventsNdjson } from './generate/index.js';
export { runCli, createProgram } from './cli/program.js';
