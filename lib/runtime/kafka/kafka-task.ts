/**
 * One Kafka task: a sub-topology over one input partition, as Kafka Streams has them
 * (`<sub-topology>_<partition>`). It wraps the runtime-independent {@link Task} with what only
 * Kafka needs: input offsets (processed, committed), the upstream tasks' watermark reports and
 * event sequence numbers (repartitioned input), the records waiting for the next commit, and the
 * task's one checkpoint record.
 *
 * The decisions are pure functions here ({@link upstreamWatermark}, {@link isReplayed},
 * {@link taskCheckpoint}); the stream thread, task manager and committer act on them.
 */
import type { DerivedRecord } from '../../operator/contract.js';
import type { SubTopology } from '../../pipeline/compile.js';
import type { ChangeloggingStoreFactory } from '../../state/changelog.js';
import type { LmdbStoreFactory } from '../../state/engines/lmdb/env.js';
import type { KeyValueStore } from '../../state/store.js';
import type { WatermarkSnapshot } from '../../time/watermark.js';
import type { Task } from '../task.js';
import type { ConsumedRecord, KafkaProducer, KafkaTransaction } from './adapter.js';

/** Headers of a watermark marker on a repartition topic. */
export const WATERMARK_HEADER = 'tributary-watermark';
export const TASK_HEADER = 'tributary-task';
/**
 * Header of an event on a repartition topic: `<input offset>.<n>`, the upstream task's input
 * offset and the event's place among those that input produced. Processing the same input again
 * (at-least-once, after a failed commit) produces the same sequence numbers, so a downstream task
 * drops what it already has instead of counting it twice.
 */
export const SEQ_HEADER = 'tributary-seq';

/**
 * What an upstream task last reported: its watermark, `idle`, `end` (of a final bounded run: its
 * watermark went to +∞), or `paused` (it reached the end of a bounded run that is not final: its
 * watermark stays at the number it reported with it, kept in `upstreamNumeric`).
 */
export type UpstreamState = number | 'idle' | 'end' | 'paused';

/** A task's checkpoint record (its store `_task.s<N>`, changelogged with its state). */
export interface TaskCheckpoint {
  watermark?: WatermarkSnapshot;
  /** What each upstream task last reported (an `end` or `paused` is kept as the number before it). */
  upstream?: Array<[string, UpstreamState]>;
  /** The last event sequence number taken from each upstream task ({@link SEQ_HEADER}). */
  seqs?: Array<[string, string]>;
}

/** A record waiting for its task's next commit. */
export interface PendingRecord {
  stream: string;
  record: DerivedRecord;
  key: string | undefined;
  headers?: Record<string, string>;
  /** Repartition target topic (events between sub-topologies). */
  repartition?: string;
  /** Explicit partition (watermark markers go to every partition). */
  partition?: number;
  /** A watermark marker (no value). */
  marker?: true;
  /** The input record it came from (for a dead letter when it cannot be encoded). */
  origin?: ConsumedRecord;
}

/** One task: a sub-topology over one partition. */
export class KafkaTask {
  readonly id: string;
  task!: Task;
  stores!: ChangeloggingStoreFactory;
  /** The task's LMDB environment (under {@link stores}); holds the input offset its state covers. */
  lmdb!: LmdbStoreFactory;
  checkpointStore!: KeyValueStore<string, TaskCheckpoint>;
  /** Exactly-once: the task's own transactional producer. */
  producer: KafkaProducer | undefined;
  /** Exactly-once: the transaction open since the task's first send after its last commit. */
  transaction: KafkaTransaction | undefined;
  /** The sends handed to the producer since the last commit, in order (each after the one before). */
  sending: Promise<void> = Promise.resolve();
  /** How many of those are not acknowledged yet. */
  inFlight = 0;
  /** Whether the task sent anything since its last commit (which must then wait for it, or commit its transaction). */
  sentSinceCommit = false;
  pending: PendingRecord[] = [];
  /** Last input offset processed and not yet committed. */
  lastOffset: string | undefined;
  /** The first input offset this task processed (committed before its first send, at-least-once). */
  firstOffset: string | undefined;
  /** The offset committed last (next to read), or undefined before the first commit here. */
  committed: string | undefined;
  upstream = new Map<string, UpstreamState>();
  ended = false;
  /** Whether the end was final (watermark +∞, everything closed) or left the state open. */
  endedFinal = false;
  ready = false;
  closed = false;
  /**
   * Aborted when the task is to be closed (revoked, lost, or the run stops): an open under way
   * (a restore) gives up at its next step instead of running to its end.
   */
  readonly closing = new AbortController();
  /** What this task last reported downstream. */
  reported: UpstreamState | undefined;
  /** The record in hand (for dead-letter headers and event sequence numbers). */
  current: ConsumedRecord | undefined;
  /** Events forwarded for the record in hand so far. */
  forwarded = 0;
  /** The last sequence number taken from each upstream task: [input offset, n]. */
  seqs = new Map<string, [bigint, number]>();
  /** Processing time of the last source record (idle detection before the first event). */
  lastEventAt = 0;
  /** Records of its partition behind the high watermark after its last batch. */
  lag = 0;
  /** The last numeric watermark each upstream task reported (what is persisted for `end`). */
  upstreamNumeric = new Map<string, number>();
  /** JSON of the checkpoint record last written (written again only when it changes). */
  persisted = '';
  /** The watermark snapshot from just before a bounded end (persisted instead of +∞). */
  preEnd: WatermarkSnapshot | undefined;
  /** When the task last trimmed its repartition topic partition, and to which offset. */
  trimmedAt = -Infinity;
  trimmedTo: string | undefined;
  /** When the task last committed (performance.now()). */
  lastCommitAt = 0;
  /** A commit scheduled for when the commit interval has passed. */
  commitTimer: ReturnType<typeof setTimeout> | undefined;
  /** Each store's last changelog offset in the local state (`-1`: none): the commit metadata. */
  changelogAt = new Map<string, bigint>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly sub: SubTopology, readonly partition: number, readonly topic: string) {
    this.id = `${sub.id}_${partition}`;
  }

  /** Runs `fn` after everything queued on this task (batches, ticks, commits never interleave). */
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** The `<sequence>` of the next event this task forwards for the record in hand. */
  nextSeq(): string | undefined {
    return this.current ? `${this.current.offset}.${this.forwarded++}` : undefined;
  }

  /**
   * Ends the task's input (bounded): remembers the event time reached; `final` fires everything
   * (watermark +∞), otherwise the watermark, timers and state stay as they are for a later run.
   */
  end(final: boolean): void {
    this.preEnd = this.task.snapshot();
    this.ended = true;
    this.endedFinal = final;
    if (final) this.task.endOfInput();
  }
}

/** The Kafka partition key of a topic partition (the task map's key). */
export const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * A downstream task's watermark from its upstream tasks' reports: `end` when all ended (final),
 * `{ paused }` when all ended and some paused (not final: the minimum of the paused ones'
 * watermarks, +∞ when none saw an event), else the minimum over the active ones (idle ones left
 * out, as Flink does across a shuffle; a paused one counts with its watermark), or undefined
 * when none is active.
 */
export function upstreamWatermark(
  upstream: ReadonlyMap<string, UpstreamState>,
  numeric: ReadonlyMap<string, number> = new Map(),
): number | 'end' | { paused: number } | undefined {
  let min = Infinity;
  let active = 0;
  let ended = 0;
  let paused = false;
  for (const [id, state] of upstream) {
    if (state === 'end') {
      ended++;
      continue;
    }
    if (state === 'idle') continue;
    let wm: number;
    if (state === 'paused') {
      // Ended without closing: it holds the watermark at what it reached, as a live task that
      // has gone quiet would; one that never saw an event holds nothing back (as an idle one).
      ended++;
      paused = true;
      wm = numeric.get(id) ?? -Infinity;
      if (wm === -Infinity) continue;
    } else wm = state;
    active++;
    if (wm < min) min = wm;
  }
  if (ended === upstream.size) return paused ? { paused: min } : 'end';
  return active > 0 && Number.isFinite(min) ? min : undefined;
}

/**
 * The run a `paused` marker belongs to: the source's end offsets at the start of the bounded run
 * (every instance of the run reads the same). A `paused` marker left on a repartition topic by an
 * earlier bounded run names other offsets, and is taken as the watermark it carries, not as an end.
 */
export function boundedRunToken(sourceEnd: ReadonlyMap<number, bigint>): string {
  return [...sourceEnd].sort(([a], [b]) => a - b).map(([p, o]) => `${p}=${o}`).join(',');
}

/** The {@link WATERMARK_HEADER} value of what a task reports (`paused:<watermark>:<run token>`). */
export function markerValue(state: UpstreamState, watermark: number, token: string): string {
  if (state === 'paused') return `paused:${watermark}:${token}`;
  return typeof state === 'number' ? String(state) : state;
}

/** What kind of run reads a marker: bounded (with its {@link boundedRunToken}) and final or not, or live (undefined). */
export interface MarkerReader {
  token: string;
  final: boolean;
}

/**
 * A {@link WATERMARK_HEADER} value as this run takes it, or undefined for a marker it ignores.
 * The upstream tasks of a run end the way the run does, so an end of the other kind is one an
 * earlier run left on the repartition topic:
 * - `end` counts only in a final bounded run (elsewhere it is ignored: it would close everything);
 * - `paused` counts as an end only in a bounded run that is not final and only from this run
 *   (its token); otherwise it is the watermark it carries.
 */
export function parseMarker(value: string, reader: MarkerReader | undefined): { state: UpstreamState; numeric?: number } | undefined {
  if (value === 'idle') return { state: value };
  if (value === 'end') return reader?.final ? { state: value } : undefined;
  if (value.startsWith('paused:')) {
    const rest = value.slice('paused:'.length);
    const at = rest.indexOf(':');
    const wm = Number(at < 0 ? rest : rest.slice(0, at));
    const from = at < 0 ? '' : rest.slice(at + 1);
    return reader && !reader.final && from === reader.token ? { state: 'paused', numeric: wm } : { state: wm, numeric: wm };
  }
  const wm = Number(value);
  return { state: wm, numeric: wm };
}

/** Whether an event with sequence `seq` from an upstream task is one this task already has. */
export function isReplayed(last: readonly [bigint, number] | undefined, seq: readonly [bigint, number]): boolean {
  return last !== undefined && (seq[0] < last[0] || (seq[0] === last[0] && seq[1] <= last[1]));
}

/** Parses a {@link SEQ_HEADER} value. */
export function parseSeq(text: string): [bigint, number] {
  const [offset, n] = text.split('.');
  return [BigInt(offset ?? '0'), Number(n ?? '0')];
}

/**
 * The checkpoint record of a task now. The end of a bounded run is the run's, not the state's:
 * what is kept is the event time reached before it, so a later run goes on from there.
 */
export function taskCheckpoint(t: KafkaTask): TaskCheckpoint {
  return {
    watermark: t.ended && t.preEnd ? t.preEnd : t.task.snapshot(),
    ...(t.upstream.size > 0
      ? { upstream: [...t.upstream].map(([id, s]): [string, UpstreamState] => [id, s === 'end' || s === 'paused' ? (t.upstreamNumeric.get(id) ?? -Infinity) : s]) }
      : {}),
    ...(t.seqs.size > 0 ? { seqs: [...t.seqs].map(([id, [o, n]]): [string, string] => [id, `${o}.${n}`]) } : {}),
  };
}

/** Loads a task's checkpoint record into it (after its stores were opened or restored). */
export function applyCheckpoint(t: KafkaTask, cp: TaskCheckpoint): void {
  for (const [id, state] of cp.upstream ?? []) {
    t.upstream.set(id, state ?? -Infinity);
    if (typeof state === 'number') t.upstreamNumeric.set(id, state);
  }
  for (const [id, seq] of cp.seqs ?? []) t.seqs.set(id, parseSeq(seq));
}
