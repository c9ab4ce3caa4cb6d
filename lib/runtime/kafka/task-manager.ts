/**
 * The task manager: which tasks this instance holds, and their lifecycle, as Kafka Streams'
 * `TaskManager` has it.
 *
 * - **Assign**: a task per assigned partition (`<sub-topology>_<partition>`), its partition
 *   paused until the task is open. Opening = the task's LMDB environment under
 *   `<state-dir>/<app>/<task>` (rebuilt when the file is damaged), restoring each store whose
 *   local checkpoint is missing, unreadable or behind its changelog (`changelog-restore.ts`
 *   decides, this acts), then the `Task` with the caching layer over change logging, and its
 *   checkpoint record (watermark, upstream reports, sequence numbers).
 *   At-least-once restores only up to the changelog offsets in the committed offset's metadata:
 *   what a failed commit sent after them belongs to input that is processed again. A local state
 *   flushed by a commit whose offset commit then failed is adopted as it is (its outputs were
 *   sent): the task goes on from its offset.
 * - **Revoke**: the task is closed without flushing (everything processed was committed).
 * - **Recover**: a task whose commit failed is closed without flushing (its uncommitted writes
 *   discarded, its transaction aborted), its partition rewound to the last committed offset and
 *   the task opened again. Bounded: 5 failures in a row at one offset stop the run.
 * - **Global tables**: one copy per instance of each `global-table` step's table.
 * - **Queries**: a key's state from the task that holds it, when this instance holds it.
 */
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OperatorContext, OperatorLogic } from '../../operator/contract.js';
import type { CompiledStep, SubTopology, Topology } from '../../pipeline/compile.js';
import { CachingStoreFactory, DEFAULT_CACHE_BYTES } from '../../state/caching.js';
import { ChangeloggingStoreFactory } from '../../state/changelog.js';
import { changelogTopic } from '../../state/changelog-codec.js';
import { needsRestore, restoreFromChangelog } from '../../state/changelog-restore.js';
import { Task } from '../task.js';
import type { TopicPartition } from './client.js';
import { parseCommitMetadata, type Committer } from './committer.js';
import { GlobalTable } from './global-table.js';
import { applyCheckpoint, KafkaTask, tpKey, type TaskCheckpoint } from './kafka-task.js';
import { localInputOffset, openEnvironment, stateIsWhole, untilAborted } from './local-state.js';
import { failureAdvice, lostMembership, transient, whatFailed } from './kafka-errors.js';
import type { RecordCollector } from './record-collector.js';
import { queryHeldTasks } from './queries.js';
import { DEFAULT_TASK_TIMEOUT_MS, messageOf, partitionsOf, type RunContext } from './run-context.js';
import { storesOfSub, taskStoreName } from './topics.js';

/** Recoveries of one task at the same committed offset before the run stops with the error. */
const MAX_RECOVERIES = 5;

/** A store restored from its changelog (the run summary lists them). */
export interface RestoredStore {
  task: string;
  store: string;
  records: number;
  ms: number;
  reason: string;
}

export class TaskManager {
  readonly tasks = new Map<string, KafkaTask>();
  readonly restored: RestoredStore[] = [];
  /** The global tables of `global-table` steps, by step name (one copy per instance). */
  private readonly globalTables = new Map<string, GlobalTable>();
  /** Tasks being closed after a revocation or a loss (awaited before the run returns). */
  private readonly closing = new Map<KafkaTask, Promise<void>>();
  /** Consecutive failures of each task (topic/partition) at one committed offset, since when. */
  private readonly failures = new Map<string, { at: string | undefined; streak: number; since: number }>();
  /** How long a task may keep failing because the brokers cannot be reached before the run stops. */
  private readonly timeoutMs: number;
  /** Whether the first assignment's tasks are all open. */
  ready = false;

  constructor(private readonly ctx: RunContext, private readonly collector: RecordCollector, private readonly committer: Committer) {
    this.timeoutMs = ctx.options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
  }

  /** Opens a global table for each `global-table` step some sub-topology looks up. */
  async openGlobalTables(): Promise<void> {
    const { topology, options, app } = this.ctx;
    for (const step of topology.steps) {
      const halves = step.definition.globalTable;
      if (!halves || !topology.subTopologies.some((s) => s.lookups?.includes(step.name))) continue;
      const table = new GlobalTable({
        adapter: options.adapter, admin: this.ctx.admin, app, name: step.name, stateDir: options.stateDir, log: this.ctx.log,
        stores: halves.stores(step.config as never).map((store) => `${step.name}.${store}`),
        onError: (error) => this.ctx.fail(error),
      });
      this.globalTables.set(step.name, table);
      await table.open();
    }
  }

  private subOf(topic: string): SubTopology | undefined {
    const { topology } = this.ctx;
    return topology.subTopologies.find((s) => (s.input === 'source' ? topology.source.topic === topic : s.input === topic));
  }

  assign(tps: TopicPartition[]): void {
    const { consumer } = this.ctx;
    // Stopping: the group may still hand out partitions while the consumer leaves; nothing opens.
    if (this.ctx.stopping) return;
    // Paused until restored; kafkajs runs GROUP_JOIN listeners before the first fetch.
    consumer.pause(tps);
    const opening: Array<Promise<void>> = [];
    for (const tp of tps) {
      const sub = this.subOf(tp.topic);
      if (!sub) continue;
      const existing = this.tasks.get(tpKey(tp.topic, tp.partition));
      if (existing && !existing.closed) continue;
      const task = new KafkaTask(sub, tp.partition, tp.topic);
      this.tasks.set(tpKey(tp.topic, tp.partition), task);
      // The task's directory is free once an earlier task of the same id (revoked, lost) is closed.
      const before = this.closingOf(task.id);
      opening.push(task.lock(async () => {
        await before;
        return this.openRetrying(task);
      }).then((opened) => {
        // A stop may have disconnected the consumer meanwhile: kafkajs throws on resume then.
        if (opened && !task.closed) consumer.resume([tp]);
      }));
    }
    void Promise.all(opening).then(() => {
      if (!this.ready) {
        this.ready = true;
        this.ctx.options.onReady?.();
      }
    });
  }

  revoke(tps: TopicPartition[]): void {
    for (const tp of tps) {
      const task = this.tasks.get(tpKey(tp.topic, tp.partition));
      if (!task) continue;
      // Committed after every batch: nothing processed is lost. Close without flushing.
      this.requestClose(task);
      if (!this.ctx.stopping) this.ctx.consumer.resume([tp]); // kafkajs keeps pause state across moves
    }
  }

  /**
   * The instance was dropped from its group: every task is lost. Closed without committing (their
   * partitions may have been processed elsewhere since); resolves once all are closed.
   */
  async loseAll(): Promise<void> {
    for (const t of [...this.tasks.values()]) this.requestClose(t);
    await Promise.all([...this.closing.values()]);
  }

  /** The run stops: tasks still opening (restoring) give up instead of finishing first. */
  abandonOpening(): void {
    for (const t of this.tasks.values()) if (!t.ready) t.closing.abort();
  }

  /**
   * Takes the task out and closes it without flushing once what holds its lock is done; an open
   * under way stops at its next step.
   */
  private requestClose(task: KafkaTask): void {
    const key = tpKey(task.topic, task.partition);
    if (this.tasks.get(key) === task) this.tasks.delete(key);
    task.closing.abort();
    if (this.closing.has(task)) return;
    const closing = task.lock(() => this.close(task, false)).catch((e: unknown) => this.ctx.log(`task ${task.id}: close failed: ${String(e)}`));
    this.closing.set(task, closing);
    void closing.finally(() => this.closing.delete(task));
  }

  /** Resolves once every task of this id being closed is closed. */
  private closingOf(id: string): Promise<unknown> {
    return Promise.all([...this.closing].filter(([t]) => t.id === id).map(([, p]) => p));
  }

  /** The logic of a step run as a global-table lookup or resolver (else undefined: the operator's own). */
  private logicFor(t: KafkaTask, step: CompiledStep, ctx: OperatorContext): OperatorLogic | undefined {
    const halves = step.definition.globalTable;
    if (!halves) return undefined;
    if (t.sub.resolver === step.name) return halves.resolver(step.config as never, ctx);
    if (!t.sub.lookups?.includes(step.name)) return undefined;
    const table = this.globalTables.get(step.name);
    if (!table) throw new Error(`internal: no global table for ${step.name}`);
    return halves.lookup(step.config as never, (store) => table.store(`${step.name}.${store}`), (event) => this.collector.toResolver(t, step.name, event));
  }

  private async open(t: KafkaTask): Promise<void> {
    const { ctx } = this;
    const started = performance.now();
    const dir = resolve(join(ctx.options.stateDir, ctx.app, t.id));
    const storeNames = storesOfSub(ctx.topology, t.sub);
    t.lmdb = openEnvironment(dir, storeNames.length * 4 + 8, ctx.log, t.id);
    t.stores = new ChangeloggingStoreFactory(t.lmdb);
    // One metadata round trip for all the task's changelogs, not one after the other.
    const [ends, committedOffsets] = await Promise.all([
      Promise.all(storeNames.map(async (store) => (await ctx.admin.endOffsets(changelogTopic(ctx.app, store))).find((w) => w.partition === t.partition))),
      ctx.admin.fetchOffsets(ctx.app, t.topic),
    ]);
    t.closing.signal.throwIfAborted();
    const committed = committedOffsets.find((o) => o.partition === t.partition);
    t.committed = committed && committed.offset !== '-1' ? committed.offset : undefined;
    // At-least-once: the changelog offsets the committed input offset covers (commit metadata).
    const covered = ctx.eos ? undefined : parseCommitMetadata(committed?.metadata);
    const local = ctx.eos ? undefined : localInputOffset(t);
    if (local !== undefined && (t.committed === undefined || BigInt(local) > BigInt(t.committed)) && stateIsWhole(t, storeNames, ends)) {
      // The state was flushed by a commit whose offset commit failed: its outputs and changelog
      // records were sent, so it stands; go on from its offset (committed at the next commit).
      ctx.log(`task ${t.id}: local state covers input up to offset ${local}, past the committed ${t.committed ?? 'none'} (an offset commit failed); going on from it`);
      t.committed = local;
      t.lastOffset = (BigInt(local) - 1n).toString();
    } else {
      // Restore every store that is missing, unreadable or behind what was committed.
      for (const [i, store] of storeNames.entries()) {
        const topic = changelogTopic(ctx.app, store);
        const end = ends[i];
        if (!end) throw new Error(`changelog ${topic} has no partition ${t.partition}`);
        const decision = needsRestore(t.stores, store, t.partition, end.high, covered ? (covered[store] ?? -1) : undefined);
        if (decision.restore) await this.restore(t, store, topic, decision);
      }
    }
    for (const store of storeNames) {
      const cp = t.stores.changelogCheckpoint(store, t.partition);
      t.changelogAt.set(store, typeof cp === 'string' ? BigInt(cp) : -1n);
    }
    const topology: Topology = { ...ctx.topology, steps: ctx.topology.steps.filter((s) => t.sub.steps.includes(s.name)) };
    t.task = new Task({
      topology, stores: new CachingStoreFactory(t.stores, { maxBytes: ctx.options.cacheBytes ?? DEFAULT_CACHE_BYTES }), clock: ctx.clock, metrics: ctx.metrics,
      output: (stream, record) => this.collector.output(t, stream, record),
      createLogic: (step, c) => this.logicFor(t, step, c),
      id: t.id,
      sourceName: ctx.topology.source.topic ?? 'source',
      eventsAreSink: t.sub.next === undefined, countsStreams: false, // the collector counts what it encodes
    });
    t.checkpointStore = t.stores.open<string, TaskCheckpoint>(taskStoreName(t.sub.id));
    const checkpoint = t.checkpointStore.get('state') ?? {};
    t.persisted = JSON.stringify(checkpoint);
    if (checkpoint.watermark) t.task.restore(checkpoint.watermark);
    else if (t.sub.input === 'source') t.task.watermarks.addPartition(String(t.partition));
    if (t.sub.input !== 'source') {
      for (const u of t.sub.upstream) {
        const upstreamSub = ctx.topology.subTopologies[u] as SubTopology;
        for (let p = 0; p < partitionsOf(ctx, upstreamSub); p++) t.upstream.set(`${upstreamSub.id}_${p}`, -Infinity);
      }
      applyCheckpoint(t, checkpoint);
    }
    t.lastEventAt = ctx.clock.now();
    await this.committer.open(t);
    t.closing.signal.throwIfAborted();
    t.ready = true;
    ctx.log(`task ${t.id}: ready on ${t.topic}/${t.partition}${t.committed ? ` from offset ${t.committed}` : ''} in ${Math.round(performance.now() - started)} ms`);
    if (ctx.options.bounded && t.sub.input === 'source' && BigInt(t.committed ?? '0') >= (ctx.sourceEnd.get(t.partition) ?? 0n)) t.end(ctx.options.final === true);
    this.collector.reportWatermark(t, true);
  }

  private async restore(t: KafkaTask, store: string, topic: string, decision: Extract<ReturnType<typeof needsRestore>, { restore: true }>): Promise<void> {
    const { ctx } = this;
    const { upTo } = decision;
    const labels = { pipeline: ctx.app, task: t.id, store };
    const from = decision.from === 'earliest' ? 0n : BigInt(decision.from);
    let applied = 0;
    ctx.metrics.restoreRemaining.set(labels, BigInt(upTo) < from ? 0 : Number(BigInt(upTo) - from + 1n));
    ctx.log(`task ${t.id}: restoring ${store} from ${topic}/${t.partition} (${decision.reason}${decision.wipe ? `: ${decision.detail}` : ''}), offsets ${decision.from}..${upTo}`);
    const result = await restoreFromChangelog({
      // A close asked for meanwhile stops the restore at the next record (what it applied so far stays, checkpointed).
      records: BigInt(upTo) < 0n ? [] : untilAborted(t.closing.signal, ctx.options.adapter.readPartition(topic, t.partition, { from: decision.from, upTo, readCommitted: true })),
      factory: t.stores,
      store,
      partition: t.partition,
      upTo,
      wipe: decision.wipe,
      onProgress: (p) => {
        ctx.metrics.restoredRecords.inc(labels, p.applied - applied);
        applied = p.applied;
        ctx.metrics.restoreRemaining.set(labels, p.done ? 0 : Math.max(0, Number(BigInt(p.upTo) - BigInt(p.offset ?? '-1'))));
        if (!p.done) ctx.log(`task ${t.id}: restoring ${store}: ${p.applied} records, offset ${p.offset}/${p.upTo}, ${Math.round(p.elapsedMs)} ms`);
      },
    });
    ctx.metrics.restoredRecords.inc(labels, result.applied - applied);
    ctx.metrics.restoreRemaining.set(labels, 0);
    ctx.log(`task ${t.id}: restored ${store}: ${result.applied} records (${result.puts} puts, ${result.deletes} deletes) in ${Math.round(result.elapsedMs)} ms`);
    this.restored.push({ task: t.id, store, records: result.applied, ms: Math.round(result.elapsedMs), reason: decision.reason });
  }

  async close(t: KafkaTask, flush: boolean): Promise<void> {
    if (t.closed) return;
    t.closed = true;
    clearTimeout(t.commitTimer);
    try {
      if (flush) {
        t.task?.prepareCommit();
        await t.stores.flush();
      }
      await t.stores?.close();
    } finally {
      // Exactly-once: what was sent since the last commit is aborted, never read.
      await t.transaction?.abort().catch(() => undefined);
      await t.producer?.disconnect().catch(() => undefined);
    }
  }

  /**
   * A key's state in a step from the tasks this instance holds (`GET /state/<step>/<key>`): the
   * step's query result, `undefined` when the task that would hold it has none, or a
   * `StateNotFound` naming the partition and task that own the key when this instance does not
   * hold it (see queries.ts).
   */
  query(step: string, key: string): unknown {
    return queryHeldTasks(this.ctx.topology, this.ctx.sourcePartitions, step, key, this.tasks.values());
  }

  /** Closes every task (after the last commits). */
  async closeAll(): Promise<void> {
    for (const t of [...this.tasks.values()]) this.requestClose(t);
    await Promise.all([...this.closing.values()]);
  }

  async closeGlobalTables(): Promise<void> {
    for (const table of this.globalTables.values()) await table.close().catch((e: unknown) => this.ctx.log(`closing a global table failed: ${String(e)}`));
  }

  /** A task's commit failed: discard its uncommitted work and open it again from what is committed. */
  async recover(t: KafkaTask, error: unknown): Promise<void> {
    const { ctx } = this;
    const message = messageOf(error);
    if (abandoned(ctx, t)) {
      // Its partition is being given up (the stop, a revocation, a loss): nothing to reopen. The
      // input since its last commit is not committed, so the partition's next owner processes it.
      // A stop whose commit failed for another reason than a rebalance (the brokers, the disk)
      // reports it.
      await this.close(t, false);
      if (ctx.stopping && !lostMembership(error)) ctx.fail(error);
      else ctx.log(`task ${t.id}: commit failed as it was being closed (${message}); its input since the last commit will be processed again`);
      return;
    }
    // A task that fails again and again at the same offset stops the run with the error (a record
    // cannot do this: processing errors are dead letters; the broker or the disk can): after
    // MAX_RECOVERIES, or, while the brokers cannot be reached, once that has lasted the task timeout.
    const key = tpKey(t.topic, t.partition);
    const now = performance.now();
    const last = this.failures.get(key);
    const same = last !== undefined && last.at === t.committed;
    const streak = same ? last.streak + 1 : 1;
    const since = same ? last.since : now;
    this.failures.set(key, { at: t.committed, streak, since });
    if (streak > MAX_RECOVERIES && (!transient(error) || now - since >= this.timeoutMs)) {
      const lasting = transient(error) ? ` over ${Math.round((now - since) / 1000)} s` : '';
      ctx.fail(new Error(`task ${t.id}: failed ${streak} times in a row${lasting} ${t.committed === undefined ? 'before its first commit' : `at input offset ${t.committed}`} (${message}); ${failureAdvice(error, join(ctx.options.stateDir, ctx.app, t.id))}`, { cause: error }));
      return;
    }
    const attempt = streak <= MAX_RECOVERIES ? `${streak} of ${MAX_RECOVERIES}` : `${streak}, failing for ${Math.round((now - since) / 1000)} s of the ${Math.round(this.timeoutMs / 1000)} s allowed`;
    ctx.log(`task ${t.id}: ${whatFailed(error)} (${message}); reopening it from the last commit (attempt ${attempt})`);
    await this.close(t, false);
    if (this.tasks.get(key) !== t) return; // revoked meanwhile
    const fresh = new KafkaTask(t.sub, t.partition, t.topic);
    this.tasks.set(key, fresh);
    const tp = { topic: t.topic, partition: t.partition };
    // kafkajs throws while it restarts its consumer (after a connection failure): it then joins
    // as a new member, and every task is revoked and assigned again (client.ts).
    quietly(() => ctx.consumer.pause([tp]));
    // Under the new task's lock, as every open: a revocation or the stop closes it after, never during.
    if (!(await fresh.lock(() => this.openRetrying(fresh)))) return;
    quietly(() => {
      if (fresh.committed !== undefined) ctx.consumer.seek({ ...tp, offset: fresh.committed });
      ctx.consumer.resume([tp]);
    });
  }

  /**
   * Opens a task, again and again while the brokers cannot be reached (up to the task timeout);
   * false when it was given up (closed meanwhile, the stop) or failed (the run stops with it).
   */
  private async openRetrying(t: KafkaTask): Promise<boolean> {
    const since = performance.now();
    for (let attempt = 1; ; attempt++) {
      if (abandoned(this.ctx, t)) return false;
      try {
        await this.open(t);
        return !abandoned(this.ctx, t);
      } catch (e) {
        if (abandoned(this.ctx, t)) return false; // closed while it opened: nothing to report
        if (!transient(e) || performance.now() - since >= this.timeoutMs) {
          this.ctx.fail(new Error(`task ${t.id}: ${messageOf(e)}`, { cause: e }));
          return false;
        }
        const wait = Math.min(10_000, 500 * attempt);
        this.ctx.log(`task ${t.id}: opening failed (${messageOf(e)}); trying again in ${wait} ms`);
        await t.stores?.close().catch(() => undefined); // the next attempt opens them again
        await t.producer?.disconnect().catch(() => undefined);
        await sleep(wait, undefined, { signal: t.closing.signal }).catch(() => undefined);
      }
    }
  }
}

/** Runs `fn`; what it throws is dropped (see the callers). */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // see the caller
  }
}

/** Whether a task is being given up: the run stops, or it is to be closed (revoked, lost). */
function abandoned(ctx: RunContext, t: KafkaTask): boolean {
  return ctx.stopping || t.closing.signal.aborted;
}
