/**
 * What a {@link Task} is made with: its topology, stores, clock, metrics and where its records go.
 */
import type { PipelineMetrics } from '../metrics/metrics.js';
import type { DerivedRecord, OperatorContext, OperatorLogic } from '../operator/contract.js';
import type { CompiledStep, Topology } from '../pipeline/compile.js';
import type { StoreFactory } from '../state/store.js';
import type { Clock } from '../time/clock.js';

/** Receives every record the task writes, by stream name. */
export type OutputFn = (stream: string, record: DerivedRecord) => void;

export interface TaskOptions {
  topology: Topology;
  /**
   * The task's stores. A factory without the caching layer (an `LmdbStoreFactory`, a
   * `MemoryStoreFactory`) gets one with the default budget; read state through
   * {@link Task.stores} then, and make it durable with {@link Task.checkpoint}.
   */
  stores: StoreFactory;
  clock: Clock;
  metrics: PipelineMetrics;
  output: OutputFn;
  /** The logic of a step when not its operator's `create` (the Kafka runtime's global-table halves). */
  createLogic?: (step: CompiledStep, ctx: OperatorContext) => OperatorLogic | undefined;
  /** The task's id in metric labels: `embedded` (default), or the Kafka task id. */
  id?: string;
  /** The source's name in data-quality metrics: the input file or the source topic. Default `source`. */
  sourceName?: string;
  /**
   * Whether the `events` this task writes are the pipeline's sink (default true). A Kafka task
   * whose events go on to a repartition topic says false: they are not counted as written to the
   * `events` stream (the last sub-topology's task counts them).
   */
  eventsAreSink?: boolean;
  /**
   * Whether the task counts what it writes per stream (`tributary_output_records_total`, the run
   * summary's streams; default true). A Kafka task says false: its record collector counts a record
   * once it is encoded, so one that becomes a dead letter there is counted as a dead letter only.
   */
  countsStreams?: boolean;
}
