/**
 * The stream thread: the consumer loop's work, as Kafka Streams' `StreamThread` does it, on
 * Node's one thread.
 *
 * - **Batches**: each fetched batch goes to its partition's task, record by record, under the
 *   task's lock (batches, ticks and commits of a task never interleave). The task's outputs go
 *   to the producer after the batch (and every `maxPendingRecords` within it) without waiting
 *   for acknowledgements; it commits when its commit interval has passed (backpressure: a task
 *   waits when it has too many unacknowledged sends; the consumer fetches at most
 *   `maxBytesPerPartition` per partition and waits while a batch is processed).
 * - **Records**: a source record is decoded and handed to the task (`Task.ingest`: normalise,
 *   key, lateness, steps); a repartitioned one is a watermark marker (the upstream task's
 *   report: the downstream watermark is the minimum over upstream tasks, idle ones left out) or
 *   an event, dropped when its sequence number says the task already has it.
 * - **Ticks**: every `tickMs` idle tasks re-evaluate their watermark (an idle source partition
 *   releases it with processing time), fire what became due, and commit.
 * - **Errors**: a record a step throws on never gets here (the Task dead-letters it), unless
 *   the pipeline says `onProcessingError: fail`: then the run stops without committing past
 *   it. Any other error is a failed commit: the task manager recovers the task.
 */
import type { TributaryEvent } from '../../event/event.js';
import { createSourceDecoder, type SourceDecoder } from './codec.js';
import type { ConsumedBatch, ConsumedRecord } from './client.js';
import type { Committer } from './committer.js';
import { boundedRunToken, isReplayed, parseMarker, type MarkerReader, parseSeq, SEQ_HEADER, TASK_HEADER, tpKey, upstreamWatermark, WATERMARK_HEADER, type KafkaTask } from './kafka-task.js';
import { sourceOf, type RecordCollector } from './record-collector.js';
import { DEFAULT_COMMIT_INTERVAL_MS, type RunContext } from './run-context.js';
import type { TaskManager } from './task-manager.js';
import { ProcessingError, type SourceInput } from '../task.js';

export class StreamThread {
  private readonly decoder: SourceDecoder;
  private readonly commitIntervalMs: number;
  /** How this run reads watermark markers (bounded: its token and finality); undefined when live. */
  private reader: MarkerReader | undefined;

  constructor(private readonly ctx: RunContext, private readonly manager: TaskManager, private readonly collector: RecordCollector, private readonly committer: Committer) {
    const { topology, options } = ctx;
    this.commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS[topology.guarantee];
    this.decoder = createSourceDecoder({
      format: topology.source.format === 'avro' ? 'avro' : 'json',
      maxRecordBytes: topology.source.maxRecordBytes,
      ...(options.schemaRegistry ? { registry: options.schemaRegistry } : {}),
    });
  }

  async onBatch(batch: ConsumedBatch): Promise<void> {
    // Stopping: the final commits are under way or done; a batch fetched now is left to the
    // partition's next owner (processed after its task's final commit, its outputs would go out
    // without their input offset ever being committed, and come out again from the next owner).
    if (this.ctx.stopping) return;
    const t = this.manager.tasks.get(tpKey(batch.topic, batch.partition));
    if (!t || !t.ready || t.closed) {
      batch.pause(); // not ready (restoring): resumes from the first unresolved record
      return;
    }
    let done: string | undefined;
    const started = performance.now();
    await t.lock(async () => {
      if (t.closed) return;
      const max = this.ctx.options.maxPendingRecords ?? 5000;
      try {
        for (const record of batch.records) {
          if (!batch.isRunning() || batch.isStale() || this.ctx.stopping) break;
          if (t.ended && t.sub.input === 'source') {
            // Bounded: past the end offsets at start (records produced since). Not processed and
            // not committed: the next run (live, or bounded) reads them.
            batch.pause();
            break;
          }
          if (t.committed !== undefined && BigInt(record.offset) < BigInt(t.committed)) continue;
          // Processed already, waiting for the task's commit: fetched again because a rebalance
          // restarts the partitions the consumer keeps at the committed offset.
          if (t.lastOffset !== undefined && BigInt(record.offset) <= BigInt(t.lastOffset)) {
            done = record.offset;
            continue;
          }
          const waiting = this.process(t, record);
          if (waiting) await waiting;
          t.firstOffset ??= record.offset;
          t.lastOffset = record.offset;
          done = record.offset;
          if (t.pending.length >= max) {
            await this.committer.send(t);
            await batch.heartbeat().catch(() => undefined);
          }
        }
        await this.committer.send(t);
        await this.commitWhenDue(t);
      } catch (error) {
        done = undefined;
        await this.failed(t, error);
      }
    });
    // What was processed (committed, or waiting in the task for its commit) is not fetched again;
    // a task that fails is rewound to its committed offset by the task manager instead.
    if (t.closed) return;
    const below = t.committed === undefined ? undefined : (BigInt(t.committed) - 1n).toString();
    const resolved = done ?? below;
    if (resolved !== undefined && BigInt(resolved) >= 0n) batch.resolveOffset(resolved);
    this.ctx.beat();
    this.ctx.stats.busyMs += performance.now() - started;
    if (resolved !== undefined) {
      const lag = BigInt(batch.highWatermark) - BigInt(resolved) - 1n;
      t.lag = Number(lag > 0n ? lag : 0n);
      this.ctx.metrics.consumerLag.set({ pipeline: this.ctx.app, topic: batch.topic, partition: String(batch.partition) }, t.lag);
    }
  }

  /**
   * Commits the task when its commit interval has passed since its last commit (or it ended);
   * otherwise makes sure a commit comes when it has.
   */
  private async commitWhenDue(t: KafkaTask): Promise<void> {
    const wait = t.lastCommitAt + this.commitIntervalMs - performance.now();
    if (wait <= 0 || t.ended) {
      await this.committer.commit(t);
      return;
    }
    if (t.commitTimer !== undefined) return;
    t.commitTimer = setTimeout(() => {
      t.commitTimer = undefined;
      void t.lock(async () => {
        if (t.closed || this.ctx.stopping) return;
        try {
          await this.committer.commit(t);
        } catch (error) {
          await this.failed(t, error);
        }
      });
    }, wait);
  }

  /**
   * `onProcessingError: fail` stops the run (nothing committed past the record); anything else is
   * recovered. Never throws: a commit timer and the tick call it where nothing would catch it.
   */
  private async failed(t: KafkaTask, error: unknown): Promise<void> {
    if (error instanceof ProcessingError) this.ctx.fail(error);
    else await this.manager.recover(t, error).catch((e: unknown) => this.ctx.fail(e));
  }

  /** Processes one record; returns a promise only when decoding had to wait (a registry lookup). */
  private process(t: KafkaTask, record: ConsumedRecord): void | Promise<void> {
    t.current = record;
    t.forwarded = 0;
    if (t.sub.input === 'source') {
      if (t.ended) return; // bounded: past the end of input (records produced after the start)
      this.ctx.stats.records++;
      t.lastEventAt = this.ctx.clock.now();
      const decoded = this.decoder.decode(record.value, sourceOf(record));
      if (decoded instanceof Promise) return decoded.then((d) => this.ingest(t, record, d));
      this.ingest(t, record, decoded);
      return;
    }
    const mark = record.headers[WATERMARK_HEADER];
    if (mark !== undefined) {
      const from = record.headers[TASK_HEADER]?.toString() ?? '?';
      if (this.ctx.options.bounded) this.reader ??= { token: boundedRunToken(this.ctx.sourceEnd), final: this.ctx.options.final === true };
      const parsed = parseMarker(mark.toString(), this.reader);
      if (parsed === undefined) return; // an earlier run's end
      t.upstream.set(from, parsed.state);
      if (parsed.numeric !== undefined) t.upstreamNumeric.set(from, parsed.numeric);
      this.applyUpstream(t);
      return;
    }
    const seqHeader = record.headers[SEQ_HEADER];
    if (seqHeader !== undefined) {
      const from = record.headers[TASK_HEADER]?.toString() ?? '?';
      const seq = parseSeq(seqHeader.toString());
      if (isReplayed(t.seqs.get(from), seq)) {
        this.ctx.stats.replayed++;
        return; // an upstream task processed its input again: this event is already in
      }
      t.seqs.set(from, seq);
    }
    let event: TributaryEvent;
    try {
      event = JSON.parse(record.value?.toString() ?? 'null') as TributaryEvent;
      if (event === null || typeof event !== 'object' || typeof event.timestamp !== 'number') throw new Error('not an event');
    } catch (error) {
      t.task.deadLetter({ reason: 'malformed-json', detail: `repartitioned record: ${String(error)}`, raw: record.value?.toString('base64') ?? '', source: sourceOf(record) });
      return;
    }
    t.task.pipeForwarded(event, { raw: record.value?.toString() ?? '', source: sourceOf(record) });
  }

  private ingest(t: KafkaTask, record: ConsumedRecord, decoded: SourceInput): void {
    t.task.ingest({ ...decoded, partition: String(t.partition) });
    if (this.ctx.options.bounded && BigInt(record.offset) + 1n >= (this.ctx.sourceEnd.get(t.partition) ?? 0n)) t.end(this.ctx.options.final === true);
  }

  /** A downstream task's watermark from its upstream tasks' reports. */
  private applyUpstream(t: KafkaTask): void {
    const wm = upstreamWatermark(t.upstream, t.upstreamNumeric);
    if (wm === 'end') {
      if (!t.ended) t.end(true);
    } else if (typeof wm === 'object') {
      // Every upstream task reached the end of a bounded run that is not final: the watermark
      // goes to where they stopped, and no further.
      if (Number.isFinite(wm.paused)) t.task.advanceWatermark(wm.paused);
      if (!t.ended) t.end(false);
    } else if (wm !== undefined) t.task.advanceWatermark(wm);
  }

  /** Timer: idle watermarks advance, timers fire, bounded ends are noticed, markers flow. */
  async tick(): Promise<void> {
    if (this.ctx.stopping) return;
    // The beat comes after every task's lock was taken once: a commit that hangs stops it.
    await this.tickTasks();
    this.ctx.beat();
  }

  private async tickTasks(): Promise<void> {
    for (const t of [...this.manager.tasks.values()]) {
      if (!t.ready || t.closed) continue;
      await t.lock(async () => {
        if (t.closed || this.ctx.stopping) return;
        try {
          if (t.sub.input === 'source') t.task.advance();
          else this.applyUpstream(t);
          // An ended task says so again on every tick: a downstream task reopened after it took
          // the first `end` (on another instance after a rebalance, or after a recovery) needs it.
          if (t.ended) this.collector.reportWatermark(t, true);
          await this.committer.send(t);
          await this.commitWhenDue(t);
        } catch (error) {
          await this.failed(t, error);
        }
      });
    }
  }
}
