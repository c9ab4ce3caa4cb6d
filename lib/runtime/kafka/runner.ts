/**
 * The Kafka runtime's application: a compiled pipeline as a consumer-group topology, run until
 * a signal (or, bounded, the end of input). Application id = pipeline name = consumer group.
 * One consumer per instance subscribes to the source topic and every repartition topic; each
 * assigned partition is a task (`<sub-topology>_<partition>`, as in Kafka Streams). The parts,
 * in the roles Kafka Streams users know:
 *
 * - this file: lifecycle (topics, global tables, consumer, signals), graceful stop (let the batch
 *   in hand finish, commit every task, close stores, leave the group), the run summary;
 * - `stream-thread.ts`: batches, records, ticks, backpressure;
 * - `task-manager.ts`: assign, revoke, open (restore from changelogs), close, recover;
 * - `kafka-task.ts`: one task's offsets, upstream watermarks, sequence numbers, checkpoint record;
 * - `record-collector.ts`: where each record goes (sink, outputs, repartition topics, dead letters);
 * - `committer.ts`: at-least-once and exactly-once commits;
 * - `run-context.ts`: what they share.
 *
 * Every store write is change-logged; a task commits after every batch and on a timer, so
 * nothing processed is left uncommitted when a rebalance takes a partition. Event time: a
 * source task's watermark is its partition's (highest event time − allowed lateness; idle after
 * `idleTimeout` → advances with processing time); a task writing into a repartition topic also
 * writes watermark markers to each of its partitions (headers `tributary-watermark`: ms, `idle`
 * or `end`; `tributary-task`: its id), after the events they cover; a downstream task's watermark
 * is the minimum over its upstream tasks (idle ones left out). Bounded runs (`bounded: true`):
 * the source's end offsets at start are the end of input; each source task ends there, the end
 * travels on as markers, and the run stops once every task it holds has ended. A final run
 * (`final: true`) moves every watermark to +∞ there (everything fires; `end` markers). By
 * default it does not: a source task stops with its real watermark and reports
 * `paused:<watermark>:<run>`; a downstream task whose upstream tasks have all paused advances to
 * the lowest of their watermarks and ends, so the state, watermarks and open timers a later run
 * (bounded or live) restores go on as one run over both inputs would.
 */
import { Registry } from 'prom-client';
import { createMetrics, counterValues } from '../../metrics/metrics.js';
import type { Topology } from '../../pipeline/compile.js';
import { systemClock } from '../../time/clock.js';
import { createCommitter } from './committer.js';
import { GroupMembership } from './membership.js';
import type { RestoredStore } from './task-manager.js';
import { TaskManager } from './task-manager.js';
import { RecordCollector } from './record-collector.js';
import { StreamThread } from './stream-thread.js';
import { STOP_STEP_TIMEOUT_MS, within } from './stop-deadline.js';
import { ensureTopics, planTopics } from './topics.js';
import { createOpsServer, Liveness, type Probe } from '../ops-server.js';
import { progressLine, type ProgressSnapshot } from './progress.js';
import type { KafkaAdmin, KafkaConsumer } from './client.js';
import type { KafkaRunOptions, RunContext } from './run-context.js';

export type { KafkaRunOptions } from './run-context.js';
export { DEAD_LETTER_HEADERS } from './record-collector.js';
export { SEQ_HEADER, TASK_HEADER, WATERMARK_HEADER } from './kafka-task.js';
export { parseCommitMetadata } from './committer.js';

export interface KafkaRunSummary {
  pipeline: string;
  guarantee: Topology['guarantee'];
  /** Source records processed by this instance. */
  records: number;
  streams: Record<string, number>;
  deadLetters: Record<string, number>;
  late: number;
  /** Stores restored from changelogs, with the records applied. */
  restored: RestoredStore[];
  commits: number;
  /** Events a downstream task dropped because it already had them (an upstream task processed its input again). */
  replayed: number;
  durationMs: number;
  /** Time spent processing fetched batches (the rest of `durationMs` was waiting for input, restoring, committing idle). */
  busyMs: number;
  /** Source records per second of busy time. */
  eventsPerSecond: number;
  /** True when stopped by the signal (not at the end of a bounded run). */
  interrupted: boolean;
}

/**
 * Runs `topology` against Kafka until `signal` aborts (or, bounded, until the end of input).
 *
 * @example
 * ```ts
 * const adapter = createKafkaJsAdapter({ brokers: ['localhost:9092'], clientId: topology.name });
 * const abort = new AbortController();
 * process.once('SIGTERM', () => abort.abort());
 * const summary = await runKafka({ topology, adapter, stateDir: 'state', signal: abort.signal });
 * ```
 */
export async function runKafka(options: KafkaRunOptions): Promise<KafkaRunSummary> {
  const started = performance.now();
  const { topology } = options;
  const sourceTopic = topology.source.topic;
  if (!sourceTopic) throw new Error(`pipeline ${topology.name}: source.topic is required to run against Kafka`);
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const alive = new Liveness(options.stallMs);
  const ctx: RunContext = {
    options,
    topology,
    app: topology.name,
    eos: topology.guarantee === 'exactly-once',
    clock: options.clock ?? systemClock,
    metrics: createMetrics(options.registry ?? new Registry()),
    log: options.log ?? (() => undefined),
    stats: { records: 0, replayed: 0, commits: 0, busyMs: 0 },
    admin: undefined as unknown as KafkaAdmin,
    consumer: undefined as unknown as KafkaConsumer,
    sourcePartitions: 0,
    sourceEnd: new Map(),
    partitionCounts: new Map(),
    stopping: false,
    beat: () => alive.beat(),
    fail(error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
      ctx.stopping = true;
      wake?.();
    },
  };
  const collector = new RecordCollector(ctx);
  const committer = createCommitter(ctx, collector);
  const manager = new TaskManager(ctx, collector, committer);
  const thread = new StreamThread(ctx, manager, collector, committer);
  options.onQuery?.((step, key) => manager.query(step, key));
  /** Bounded: everything this instance holds has ended (and it holds something, or the group has nothing for it). */
  const boundedDone = () => {
    if (!options.bounded || !manager.ready) return false;
    for (const t of manager.tasks.values()) if (!t.ended || !t.ready || t.pending.length > 0 || t.lastOffset !== undefined) return false;
    return true;
  };

  /** Ready: the first assignment's tasks and every task assigned since are restored and processing. */
  const readiness = (): Probe => {
    if (ctx.stopping) return { ok: false, detail: 'stopping' };
    if (!manager.ready) return { ok: false, detail: 'joining the group and restoring the first assignment' };
    const waiting = [...manager.tasks.values()].filter((t) => !t.ready && !t.closed).map((t) => t.id);
    if (waiting.length > 0) return { ok: false, detail: `restoring task${waiting.length > 1 ? 's' : ''} ${waiting.sort().join(', ')}` };
    return { ok: true, detail: `processing ${manager.tasks.size} task${manager.tasks.size === 1 ? '' : 's'}` };
  };
  const serving = options.metricsPort !== undefined || options.statePort !== undefined;
  const ops = serving ? createOpsServer({
    registry: ctx.metrics.registry,
    health: () => alive.probe(),
    ready: readiness,
    read: (step, key) => manager.query(step, key),
    onScrape: () => ctx.metrics.ready.set({ pipeline: ctx.app }, readiness().ok ? 1 : 0),
  }) : undefined;
  try {
    if (ops && options.metricsPort !== undefined) options.onMetricsServer?.(await ops.listen(options.metricsPort, options.metricsHost));
    if (ops && options.statePort !== undefined && options.statePort !== options.metricsPort) options.onMetricsServer?.(await ops.listen(options.statePort, options.metricsHost));
  } catch (error) {
    alive.stop();
    await ops?.close();
    throw error;
  }
  ctx.admin = await options.adapter.admin();
  let membership: GroupMembership | undefined;
  try {
    const [described] = await ctx.admin.describeTopics([sourceTopic]);
    if (!described) throw new Error(`pipeline ${ctx.app}: source topic ${sourceTopic} does not exist`);
    ctx.sourcePartitions = described.partitions.length;
    const { created } = await ensureTopics(options.adapter, planTopics(topology, ctx.sourcePartitions));
    if (created.length > 0) ctx.log(`created topics: ${created.join(', ')}`);
    const written = [...new Set([...topology.streams.map((s) => s.topic), ...topology.subTopologies.filter((s) => s.input !== 'source').map((s) => s.input)])];
    for (const d of await ctx.admin.describeTopics(written)) ctx.partitionCounts.set(d.name, d.partitions.length);
    if (options.bounded) {
      for (const w of await ctx.admin.endOffsets(sourceTopic)) ctx.sourceEnd.set(w.partition, BigInt(w.high));
    }
    await manager.openGlobalTables();
    const inputs = [sourceTopic, ...topology.subTopologies.filter((s) => s.input !== 'source').map((s) => s.input)];
    membership = new GroupMembership(ctx, manager, inputs, (batch) => thread.onBatch(batch));
    await membership.join();

    const tick = setInterval(() => void thread.tick(), options.tickMs ?? 1000);
    const snapshot = (): ProgressSnapshot => {
      const sources = [...manager.tasks.values()].filter((t) => t.ready && t.sub.input === 'source');
      const wms = sources.map((t) => t.task.watermarks.current()).filter((w) => Number.isFinite(w));
      return {
        at: performance.now(), records: ctx.stats.records, busyMs: ctx.stats.busyMs,
        lag: new Map([...manager.tasks.values()].map((t) => [t.id, t.lag])), watermark: wms.length ? Math.min(...wms) : undefined,
      };
    };
    let last = snapshot();
    const progressEvery = options.progressEveryMs ?? 5000;
    const progress = options.log && progressEvery > 0 ? setInterval(() => {
      const now = snapshot();
      ctx.log(progressLine(last, now));
      last = now;
    }, progressEvery) : undefined;
    progress?.unref();
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      wake?.();
    };
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) onAbort();
    try {
      while (!aborted && !failure && !boundedDone()) {
        await new Promise<void>((ok) => {
          wake = ok;
          setTimeout(ok, 200).unref();
        });
      }
    } finally {
      clearInterval(tick);
      clearInterval(progress);
      options.signal?.removeEventListener('abort', onAbort);
    }
    // Graceful stop: let the batch in hand finish, commit every task, leave the group. Tasks still
    // restoring give up (they processed nothing); a task's lock keeps its commit after its batch.
    ctx.stopping = true;
    manager.abandonOpening();
    if (!failure) {
      for (const t of manager.tasks.values()) {
        if (!t.ready || t.closed) continue; // opening: it processed nothing (and gives up, above)
        await t.lock(async () => {
          if (!t.ready || t.closed) return;
          await committer.commit(t);
          committer.trim(t, true);
        }).catch((e: unknown) => ctx.log(`task ${t.id}: final commit failed: ${String(e)}`));
      }
    }
  } finally {
    // Leave the group (a failure too: its partitions move now, not after the session timeout),
    // then close the tasks and the global tables they read, in that order.
    ctx.stopping = true;
    manager.abandonOpening();
    const limit = options.stopStepTimeoutMs ?? STOP_STEP_TIMEOUT_MS;
    const step = (work: Promise<unknown>, what: string) => within(work, limit, what, ctx.log);
    await step(membership?.leave() ?? Promise.resolve(), 'leaving the consumer group');
    await step(manager.closeAll(), 'closing the tasks');
    await step(committer.close(), 'closing the producers');
    await step(manager.closeGlobalTables(), 'closing the global tables');
    await step(ctx.admin.disconnect(), 'disconnecting the admin client');
    alive.stop();
    await ops?.close();
  }
  if (failure) throw failure;
  const durationMs = performance.now() - started;
  return {
    pipeline: ctx.app,
    guarantee: topology.guarantee,
    records: ctx.stats.records,
    ...(await counts(ctx)),
    restored: manager.restored,
    commits: ctx.stats.commits,
    replayed: ctx.stats.replayed,
    durationMs,
    busyMs: ctx.stats.busyMs,
    eventsPerSecond: ctx.stats.records / Math.max(ctx.stats.busyMs / 1000, 1e-9),
    interrupted: !boundedDone(),
  };
}

/** Records per stream, dead letters by reason and late records, from the run's metrics. */
async function counts(ctx: RunContext) {
  const streams: Record<string, number> = {};
  for (const s of ctx.topology.streams) streams[s.name] = 0;
  for (const v of await counterValues(ctx.metrics.streamRecords)) if (streams[String(v.labels.stream)] !== undefined) streams[String(v.labels.stream)] = v.value;
  const deadLetters: Record<string, number> = {};
  for (const d of await counterValues(ctx.metrics.deadLetters)) deadLetters[String(d.labels.reason)] = d.value;
  const late = (await counterValues(ctx.metrics.lateRecords)).reduce((a, v) => a + v.value, 0);
  return { streams, deadLetters, late };
}

/** The summary as `tributary run --brokers` prints it. */
export function formatKafkaSummary(s: KafkaRunSummary): string {
  const lines = [
    `${s.interrupted ? 'stopped' : 'done'}: pipeline ${s.pipeline} (${s.guarantee}), ${s.records} source records in ${(s.durationMs / 1000).toFixed(2)}s, ${(s.busyMs / 1000).toFixed(2)}s of it processing (${Math.round(s.eventsPerSecond)} events/s while busy), ${s.commits} commits`,
  ];
  const dl = Object.entries(s.deadLetters).map(([k, v]) => `${k} ${v}`);
  lines.push(`  dead letters: ${dl.length ? dl.join(', ') : 0}; late: ${s.late}${s.replayed ? `; replayed events dropped: ${s.replayed}` : ''}`);
  for (const r of s.restored) lines.push(`  restored ${r.store} of task ${r.task}: ${r.records} records in ${r.ms} ms (${r.reason})`);
  lines.push('  records written by this instance:');
  for (const [stream, n] of Object.entries(s.streams)) lines.push(`    ${stream}  ${n}`);
  return lines.join('\n');
}
