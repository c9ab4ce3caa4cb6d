/**
 * What the parts of the Kafka runtime share for one run: the options, the compiled topology,
 * the Kafka clients, metrics, counters and the run's failure. The application
 * (`runner.ts`) makes it; the stream thread, task manager, record collector and committer read
 * it and report to it. Nothing here decides anything.
 */
import type { Registry } from 'prom-client';
import type { PipelineMetrics } from '../../metrics/metrics.js';
import type { SubTopology, Topology } from '../../pipeline/compile.js';
import type { SchemaRegistryClient } from '../../serde/schema-registry.js';
import type { Clock } from '../../time/clock.js';
import type { KafkaAdapter, KafkaAdmin, KafkaConsumer } from './client.js';

export interface KafkaRunOptions {
  topology: Topology;
  adapter: KafkaAdapter;
  /** Root of the task state directories: `<stateDir>/<app>/<task>`. */
  stateDir: string;
  /** Estimated bytes of decoded state each task keeps in memory (the caching layer). Default 256 MiB. */
  cacheBytes?: number;
  /** Stop at the source's end offsets as they are at start (a replay or backfill); default: run until stopped. */
  bounded?: boolean;
  /**
   * Bounded: whether the end of input closes everything (every task's watermark goes to +∞:
   * every timer fires, every session and window closes, dedupe forgets its keys). Default false:
   * the tasks stop at the end offsets with their real watermark, open timers and keys committed
   * and change-logged, so a later run (bounded or live) goes on as one run over both inputs.
   */
  final?: boolean;
  /** Aborting stops the runner gracefully (drain, commit, close, leave the group). */
  signal?: AbortSignal;
  /** Confluent schema registry for Avro sources and outputs. */
  schemaRegistry?: SchemaRegistryClient;
  clock?: Clock;
  registry?: Registry;
  /** Outputs a task holds before it hands them to the producer in the middle of a batch; default 5000. */
  maxPendingRecords?: number;
  /**
   * A task commits at most this often (and at the end): it waits for its outputs to be
   * acknowledged, sends its stores' changelog records, flushes LMDB and commits the input offset.
   * Outputs go to the producer after every fetched batch either way (at-least-once they do not
   * wait for the commit; exactly-once they are read at the transaction's commit).
   * - at-least-once, default 100 ms: under load a fetched batch takes longer than that, so the
   *   task commits after every batch; at low rates it commits at most every 100 ms instead of
   *   after every small batch (each commit fsyncs: at 2,000 events/s, p99 47 ms instead of
   *   115). kafkajs learns of a rebalance only after the fact, so a task cannot commit before its
   *   partition moves: what it sent since its last commit (a batch, or 100 ms) is sent again by
   *   the next owner. A longer interval logs a busy key less often and costs fewer commits (1 s:
   *   about +15% events/s on the cart-abandonment pipeline), at the price of more repeated
   *   outputs on a rebalance and more input processed again after a crash.
   * - exactly-once, default 100 ms (as Kafka Streams): the latency of its outputs.
   */
  commitIntervalMs?: number;
  /** How often idle tasks re-evaluate their watermark and commit what fired; default 1000 ms. */
  tickMs?: number;
  /** Progress and restore lines. */
  log?: (line: string) => void;
  /** How often a progress line goes to `log` (records, rate, busy share, lag, watermark); default 5000 ms, 0: never. */
  progressEveryMs?: number;
  /** Called once the first assignment's tasks are ready. */
  onReady?: () => void;
  /**
   * Called once at start with the run's state query (`GET /state/<step>/<key>` for a state
   * server): a key's state from the tasks this instance holds, `undefined` when the task that
   * would hold it has none; it throws `StateNotFound` naming the partition and task that own the
   * key when this instance does not hold it.
   */
  onQuery?: (query: (step: string, key: string) => unknown) => void;
  /**
   * How long a task may keep failing to commit or to open because the brokers cannot be reached
   * (a restart, an outage) before the run stops with the error; default 5 minutes (Kafka
   * Streams' `task.timeout.ms`). Until then it is reopened from its last commit and tried again.
   */
  taskTimeoutMs?: number;
  /**
   * How long each step of a stop (leaving the group, closing the tasks, the producers, the admin)
   * may take before it is left behind with a log line; default 30 s. kafkajs's disconnects can
   * hang for good while it reconnects: the stop must still end.
   */
  stopStepTimeoutMs?: number;
  /** Consumer group session timeout (ms); default 30 s. A killed instance's partitions move after it. */
  sessionTimeoutMs?: number;
  /**
   * Serve `/metrics`, `/healthz`, `/readyz` and `/state/<step>/<key>` on this port while the run
   * lasts (0 picks a free port). `statePort`, when also given, serves the same.
   */
  metricsPort?: number;
  /** A second port with the same endpoints (`--state-port`). */
  statePort?: number;
  /** The address the operations server binds. Default `127.0.0.1`. */
  metricsHost?: string;
  /** Called with each port the operations server listens on. */
  onMetricsServer?: (port: number) => void;
  /** `/healthz` fails when the stream thread has not completed a tick or a batch for this long. Default 60 s. */
  stallMs?: number;
}

/** Default of {@link KafkaRunOptions.commitIntervalMs}: at-least-once and exactly-once. */
export const DEFAULT_COMMIT_INTERVAL_MS = { 'at-least-once': 100, 'exactly-once': 100 } as const;

/** Default of {@link KafkaRunOptions.taskTimeoutMs}. */
export const DEFAULT_TASK_TIMEOUT_MS = 300_000;

/** Counters of a run (this instance), for its summary. */
export interface RunStats {
  /** Source records processed. */
  records: number;
  /** Events a downstream task dropped because it already had them. */
  replayed: number;
  commits: number;
  /** Milliseconds spent processing fetched batches (the summary's rate is over this busy time). */
  busyMs: number;
}

export interface RunContext {
  readonly options: KafkaRunOptions;
  readonly topology: Topology;
  /** Application id = pipeline name = consumer group. */
  readonly app: string;
  readonly eos: boolean;
  readonly clock: Clock;
  readonly metrics: PipelineMetrics;
  readonly log: (line: string) => void;
  readonly stats: RunStats;
  admin: KafkaAdmin;
  consumer: KafkaConsumer;
  /** Partitions of the source topic (every keyed sub-topology has as many tasks). */
  sourcePartitions: number;
  /** Partitions of each topic the run writes (the collector places keyed records itself). */
  readonly partitionCounts: Map<string, number>;
  /** Bounded runs: each source partition's end offset at start. */
  readonly sourceEnd: Map<number, bigint>;
  /** Set once the run is stopping (signal, bounded end, failure). */
  stopping: boolean;
  /** Stops the run with `error` (the first one wins). */
  fail(error: unknown): void;
  /** Reports progress of the stream thread (a batch or a tick done): what `/healthz` watches. */
  beat(): void;
}

/** Tasks of a sub-topology: one per source partition, or one for a global step. */
export function partitionsOf(ctx: RunContext, sub: SubTopology): number {
  return sub.partitions === 1 ? 1 : ctx.sourcePartitions;
}

/** The sub-topologies that read what `sub` writes (events and watermark markers). */
export function downstreamOf(topology: Topology, sub: SubTopology): SubTopology[] {
  return topology.subTopologies.filter((d) => d.upstream.includes(sub.id));
}

/** The message of an error, for a log line. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
