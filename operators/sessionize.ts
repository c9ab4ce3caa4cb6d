/**
 * `sessionize`: gap-based sessions per key in event time. Events pass through
 * annotated with `sessionId`; when the watermark passes a session's `end + gap`, one record
 * goes to the `sessions` output.
 *
 * Semantics, precisely (all times are event times in ms; `gap` and `maxDuration` from the options):
 *
 * - **Joining.** An event at `t` is *within gap* of an open session `[start, end]` of its key
 *   when `start − gap ≤ t ≤ end + gap` (both bounds inclusive: exactly `gap` after the last
 *   event still belongs, `gap + 1ms` starts a new session — the Kafka Streams / Flink
 *   convention). An event before `start` but within gap extends the session backwards.
 * - **maxDuration.** A session never spans more than `maxDuration` (`end − start ≤ maxDuration`,
 *   inclusive). An event joins a session only if the session's span including the event stays
 *   within it; otherwise the event starts a new session `[t, t]` (so two sessions of one key can
 *   be closer than `gap` when the first one was full).
 * - **Which session.** Of the open sessions within gap that the event may join, it joins the
 *   nearest (distance 0 when `t` lies inside it), the earlier one on a tie.
 * - **Merging.** Every other open session still within gap of `t` is merged into it (nearest
 *   first) when the merged span stays within `maxDuration`; one that would exceed it stays
 *   separate. Sessions of a key therefore never overlap.
 * - **Ids.** `sessionId = deriveId('session', key, start)`. An event is annotated with the id
 *   of its session right after it was processed. When a session's start moves earlier (an
 *   out-of-order event, or a merge with an earlier session) its id changes; events already
 *   passed on carry the old id. The session record lists in `mergedFrom` (sorted) every id
 *   that was ever given to an event now in this session, other than the final `sessionId`: the
 *   ids of absorbed sessions as well as the session's own earlier ids. Downstream joins events
 *   to a session by `sessionId ∈ {record.sessionId} ∪ record.mergedFrom`.
 * - **Closing.** A session closes when the watermark passes `end + gap` (watermark > end + gap:
 *   an event at exactly `end + gap` is not late and still joins). One timer per session does it
 *   (at `end + gap + 1`, rebuilt from the state after a restart, moved lazily as the session grows, see
 *   {@link SessionizeLogic.advance}); end of input (watermark +∞) and idle partitions (the
 *   watermark then advances with processing time) close sessions the same way. Sessions that
 *   close at the same watermark come out in (close time, session id) order. Closing never
 *   changes a result: any event that could still join the session is late.
 * - **Duplicates.** Every event that reaches the step is counted, so the same `messageId` twice
 *   counts twice; put `dedupe` before `sessionize` to count each event once.
 *
 * State, only through the store interface (so a Kafka task can restore it from a changelog):
 * `sessions` holds one value per operator key, `key → OpenSession[]` (that key's open sessions,
 * sorted by start, each its start and {@link SessionState}); a key without open sessions has no
 * entry. An event costs one `get` and one `put` of its key (a binary search and a short scan of
 * that key's few open sessions finds the candidates); a close costs one `get` and one `put`, or
 * a `delete` when it was the key's last open session. Values are replaced, never modified.
 * The close timers are not state: they live in memory ({@link MemoryTimers}, one per open
 * session at `end + gap + 1`, id = session id) and are rebuilt from `sessions` (one scan) when
 * the logic is created, i.e. after a Kafka task restored its stores or an embedded run reopened
 * its LMDB state; closing from rebuilt timers gives the same records in the same order. State
 * written by the earlier layout (`[key, start] → SessionState`) is regrouped per key then.
 */
import type { OperatorFunction } from 'rxjs';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import type { Entry, KeyValueStore, StoreKey } from '../lib/state/store.js';
import { MemoryTimers } from '../lib/time/timers.js';
import { DURATION_PATTERN, parseDuration, type Duration } from '../lib/time/duration.js';
import { lowerBound } from '../lib/util/sorted.js';

/** Options of `sessionize` as written in a pipeline. */
export interface SessionizeOptions {
  /**
   * Session key: a field path or a list of paths (first non-null). Default
   * `[personId, anonymousId, userId]`: the person after `joinIdentity`; without it the device,
   * so that logging in mid-visit (an event that adds `userId`) does not split the session;
   * `userId` for server-side events that carry no device id.
   */
  key?: string | string[];
  /** Inactivity that ends a session, in event time (inclusive). Default `30m`. */
  gap?: Duration;
  /** Longest span `end − start` of one session (inclusive). Default `24h`. */
  maxDuration?: Duration;
  /** Stream that receives one record per closed session. Default: none (events are only annotated). */
  output?: string;
  /** Step name, when a pipeline has two sessionize steps. */
  name?: string;
}

/** Resolved options. */
export interface SessionizeConfig {
  key: string[];
  gapMs: number;
  maxDurationMs: number;
  output: string | undefined;
}

/** The entry or exit event of a session. */
export interface SessionEventRef {
  messageId: string;
  /** The `event` name of a track event, else the event `type`. */
  event: string;
  timestamp: number;
  /** `properties.url`, `properties.path`, `context.page.url` or `context.page.path` (the first that is a non-empty string), else null. */
  page: string | null;
}

/** A record of the sessions output. */
export interface SessionRecord extends DerivedRecord {
  /** `deriveId('session', key, start)`. */
  sessionId: string;
  key: string;
  /** Event time of the first event. */
  start: number;
  /** Event time of the last event. */
  end: number;
  /** `end − start`. */
  durationMs: number;
  eventCount: number;
  /** Events per name (`event` for track events, `type` for the others). */
  eventCounts: Record<string, number>;
  firstEvent: SessionEventRef;
  lastEvent: SessionEventRef;
  /** Distinct `context.channel` values, sorted. */
  channels: string[];
  /** Every other id given to events of this session (absorbed sessions, earlier starts), sorted. */
  mergedFrom: string[];
}

/** The state of an open session (its key and start are where it is stored). */
export interface SessionState {
  id: string;
  end: number;
  count: number;
  /** `[name, count]`, sorted by name (an array, so event names like `__proto__` stay data). */
  counts: Array<[string, number]>;
  first: SessionEventRef;
  last: SessionEventRef;
  /** Sorted, distinct. */
  channels: string[];
  /** Sorted, distinct. */
  mergedFrom: string[];
}

/** An open session as stored in its key's list: its start and its state. */
export interface OpenSession extends SessionState {
  start: number;
}

/** `sessions`: operator key → that key's open sessions, sorted by start (never empty). */
type SessionStore = KeyValueStore<string, readonly OpenSession[]>;

/** What a close timer points at: the key and start of its session. */
type TimerData = readonly [key: string, start: number];

interface Candidate {
  start: number;
  state: OpenSession;
  /** Distance from the event to the session, 0 when inside it. */
  dist: number;
}

/** Index of the first session whose start is ≥ `start` (binary search). */
function firstFrom(list: readonly OpenSession[], start: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as OpenSession).start < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A copy of `list` without the sessions in `removed`, with `session` at its place by start
 * (replacing one with the same start, as a put of the same store key did).
 */
function replaced(list: readonly OpenSession[], removed: readonly OpenSession[], session: OpenSession): OpenSession[] {
  const out: OpenSession[] = [];
  let placed = false;
  for (const s of list) {
    if (removed.includes(s)) continue;
    if (!placed && s.start >= session.start) {
      out.push(session);
      placed = true;
      if (s.start === session.start) continue;
    }
    out.push(s);
  }
  if (!placed) out.push(session);
  return out;
}

function eventName(e: TributaryEvent): string {
  if (e.type !== 'track') return String(e.type);
  return typeof e.event === 'string' && e.event.length > 0 ? e.event : 'track';
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function pageOf(e: TributaryEvent): string | null {
  const props = e.properties;
  const page = e.context?.page as Record<string, unknown> | undefined;
  const pageObj = page !== null && typeof page === 'object' ? page : undefined;
  return str(props?.url) ?? str(props?.path) ?? str(pageObj?.url) ?? str(pageObj?.path);
}

function refOf(e: TributaryEvent): SessionEventRef {
  return { messageId: e.messageId, event: eventName(e), timestamp: e.timestamp, page: pageOf(e) };
}

/** Inserts `v` into a sorted distinct list (copy-on-write). */
function withSorted(list: string[], v: string): string[] {
  const lo = lowerBound(list, v);
  if (list[lo] === v) return list;
  const out = list.slice();
  out.splice(lo, 0, v);
  return out;
}

function unionSorted(a: string[], b: string[]): string[] {
  let out = a;
  for (const v of b) out = withSorted(out, v);
  return out;
}

function addCount(counts: Array<[string, number]>, name: string, n: number): Array<[string, number]> {
  const out = counts.map(([k, c]): [string, number] => [k, c]);
  let i = 0;
  while (i < out.length && (out[i] as [string, number])[0] < name) i++;
  const at = out[i];
  if (at && at[0] === name) at[1] += n;
  else out.splice(i, 0, [name, n]);
  return out;
}

/**
 * The per-key logic of sessionize, usable with plain calls (see the module notes for the
 * exact semantics).
 *
 * @example
 * ```ts
 * const ctx = recordingContext('sessionize');
 * const logic = new SessionizeLogic(sessionizeOperator.resolve({ gap: '30m', output: 'sessions' }), ctx);
 * logic.process(event, 'a1');   // the event, with sessionId
 * logic.advance(Infinity);      // ctx.emitted: one record on `sessions`
 * ```
 */
export class SessionizeLogic implements OperatorLogic {
  private readonly sessions: SessionStore;
  /** Close timers, memory only: rebuilt from `sessions` in the constructor. */
  private readonly timers = new MemoryTimers<TimerData>();

  constructor(private readonly config: SessionizeConfig, private readonly ctx: OperatorContext) {
    this.sessions = ctx.store<string, readonly OpenSession[]>('sessions');
    // The logic is created after the stores were restored or reopened: one timer per open session.
    const earlierLayout: Array<Entry<StoreKey, SessionState>> = [];
    for (const entry of this.sessions.range()) {
      if (Array.isArray(entry.key)) earlierLayout.push(entry as unknown as Entry<StoreKey, SessionState>);
      else for (const s of entry.value) this.schedule(s.id, s.end + config.gapMs + 1, entry.key, s.start);
    }
    if (earlierLayout.length > 0) this.upgrade(earlierLayout);
  }

  /**
   * Regroups state written by the earlier layout (`[key, start] → SessionState`, one entry per
   * session) into one value per key, and schedules its sessions.
   */
  private upgrade(entries: Array<Entry<StoreKey, SessionState>>): void {
    const byKey = new Map<string, OpenSession[]>();
    for (const { key, value } of entries) {
      const [k, start] = key as readonly [string, number];
      (this.sessions as unknown as KeyValueStore<StoreKey, unknown>).delete(key);
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = [...(this.sessions.get(k) ?? [])]));
      list.push({ ...value, start });
    }
    for (const [k, list] of byKey) {
      list.sort((x, y) => x.start - y.start);
      this.sessions.put(k, list);
      for (const s of list) if (this.timers.pending(s.id) === undefined) this.schedule(s.id, s.end + this.config.gapMs + 1, k, s.start);
    }
  }

  process(event: TributaryEvent, key: string): TributaryEvent {
    const t = event.timestamp;
    const { gapMs: gap, maxDurationMs: max } = this.config;
    const list = this.sessions.get(key);

    const candidates: Candidate[] = [];
    if (list !== undefined) {
      // A session spans at most `max`, so one within gap of t starts at or after t − gap − max.
      for (let i = firstFrom(list, t - gap - max); i < list.length; i++) {
        const session = list[i] as OpenSession;
        const start = session.start;
        if (start > t + gap) break;
        const dist = t < start ? start - t : t > session.end ? t - session.end : 0;
        if (dist <= gap) candidates.push({ start, state: session, dist });
      }
      if (candidates.length > 1) candidates.sort((a, b) => a.dist - b.dist || a.start - b.start);
    }

    const ref = refOf(event);
    const name = eventName(event);
    const channel = str(event.context?.channel);
    const targetIndex = candidates.findIndex((c) => Math.max(c.state.end, t) - Math.min(c.start, t) <= max);
    const target = candidates[targetIndex];

    if (!target) {
      const id = deriveId('session', key, t);
      const session: OpenSession = {
        start: t,
        id,
        end: t,
        count: 1,
        counts: [[name, 1]],
        first: ref,
        last: ref,
        channels: channel ? [channel] : [],
        mergedFrom: [],
      };
      this.sessions.put(key, list === undefined ? [session] : replaced(list, [], session));
      this.schedule(id, t + gap + 1, key, t);
      return this.ctx.annotate(event, 'sessionId', id);
    }

    let start = Math.min(target.start, t);
    let end = Math.max(target.state.end, t);
    const s = target.state;
    let count = s.count + 1;
    let counts = addCount(s.counts, name, 1);
    let channels = channel ? withSorted(s.channels, channel) : s.channels;
    let first = t < s.first.timestamp ? ref : s.first;
    let last = t >= s.last.timestamp ? ref : s.last;
    let mergedFrom = s.mergedFrom;
    const removed: OpenSession[] = [s];
    candidates.forEach((c, i) => {
      if (i === targetIndex) return;
      const from = Math.min(start, c.start);
      const to = Math.max(end, c.state.end);
      if (to - from > max) return;
      removed.push(c.state);
      start = from;
      end = to;
      count += c.state.count;
      for (const [n, v] of c.state.counts) counts = addCount(counts, n, v);
      channels = unionSorted(channels, c.state.channels);
      if (c.state.first.timestamp < first.timestamp) first = c.state.first;
      if (c.state.last.timestamp > last.timestamp) last = c.state.last;
      mergedFrom = unionSorted(withSorted(mergedFrom, c.state.id), c.state.mergedFrom);
    });

    let id = s.id;
    if (start !== target.start) {
      // The start moved earlier: a new id; the old one was given to this session's earlier events.
      id = deriveId('session', key, start);
      mergedFrom = withSorted(mergedFrom, s.id);
      this.timers.cancel(s.id);
    }
    for (let i = 1; i < removed.length; i++) this.timers.cancel((removed[i] as OpenSession).id);
    // The id of the merged session may be one it absorbed (the earliest start survives).
    if (mergedFrom.includes(id)) mergedFrom = mergedFrom.filter((m) => m !== id);

    this.sessions.put(key, replaced(list as readonly OpenSession[], removed, { start, id, end, count, counts, first, last, channels, mergedFrom }));
    // A session that only grew keeps its timer: it fires early and is moved then (see advance).
    if (id !== s.id) this.schedule(id, end + gap + 1, key, start);
    return this.ctx.annotate(event, 'sessionId', id);
  }

  private schedule(id: string, time: number, key: string, start: number): void {
    this.timers.register({ id, time, data: [key, start] });
  }

  /** The time the close timer of session `id` is set for, if one is pending (tests, diagnostics). */
  pendingClose(id: string): number | undefined {
    return this.timers.pending(id);
  }

  /**
   * Closes every session whose `end + gap` the watermark has passed, in (close time, id) order.
   *
   * Timers move lazily: a session's timer is set at `end + gap + 1` when the session starts (or
   * its id changes, or the logic is created) and left there as the session grows; when it fires
   * while the session has grown, it is re-registered at the session's current `end + gap + 1`
   * (within the same `fireDue` round when that is due too). Every timer is at or before its
   * session's close time and timers fire in (time, id) order, so sessions still close in
   * (close time, id) order, and a growing session costs no timer operation per event.
   */
  advance(watermark: number): void {
    if (watermark < this.timers.nextTime()) return;
    const gap = this.config.gapMs;
    this.timers.fireDue(watermark, (timer) => {
      const [key, start] = timer.data;
      const list = this.sessions.get(key);
      if (list === undefined) return;
      const i = firstFrom(list, start);
      const state = list[i];
      if (state === undefined || state.start !== start) return;
      const due = state.end + gap + 1;
      if (due > timer.time) {
        this.timers.register({ id: timer.id, time: due, data: timer.data });
        return;
      }
      if (list.length === 1) this.sessions.delete(key);
      else this.sessions.put(key, list.filter((_, j) => j !== i));
      if (this.config.output) this.ctx.emit(this.config.output, sessionRecord(key, start, state));
    });
  }
}

/** The sessions record of a closed session. */
export function sessionRecord(key: string, start: number, s: SessionState): SessionRecord {
  return {
    sessionId: s.id,
    key,
    start,
    end: s.end,
    durationMs: s.end - start,
    eventCount: s.count,
    eventCounts: Object.fromEntries(s.counts),
    firstEvent: s.first,
    lastEvent: s.last,
    channels: s.channels,
    mergedFrom: s.mergedFrom,
  };
}

const positive = (option: string, value: Duration): number => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Error(`${option}: ${JSON.stringify(value)} must be longer than 0 (e.g. ${option === 'gap' ? '30m' : '24h'})`);
  return ms;
};

/** The `sessionize` operator definition (registry entry). */
export const sessionizeOperator = defineOperator<SessionizeOptions, SessionizeConfig>({
  name: 'sessionize',
  summary: 'gap-based sessions per key in event time; events annotated with sessionId, one record per closed session',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      key: {
        description: 'session key: a field path or list of paths, first non-null wins (default [personId, anonymousId, userId])',
        oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
      },
      gap: { description: 'inactivity that ends a session, inclusive, in event time (default 30m)', type: 'string', pattern: DURATION_PATTERN },
      maxDuration: { description: 'longest span (end - start) of one session, inclusive (default 24h)', type: 'string', pattern: DURATION_PATTERN },
      output: { description: 'stream receiving one record per closed session', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
      name: { description: 'step name (default sessionize)', type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
    },
  },
  resolve(options) {
    return {
      key: options.key === undefined ? ['personId', 'anonymousId', 'userId'] : Array.isArray(options.key) ? options.key : [options.key],
      gapMs: positive('gap', options.gap ?? '30m'),
      maxDurationMs: positive('maxDuration', options.maxDuration ?? '24h'),
      output: options.output,
    };
  },
  keyPaths: (c) => c.key,
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'sessions', key: ['key'] }] : []),
  stores: () => ['sessions'],
  create: (c, ctx) => new SessionizeLogic(c, ctx),
  // Tested: stored lists and session states are replaced, never modified in place (sessionize.logic.test.ts).
  immutableState: true,
});

/**
 * `sessionize` as a pipeable RxJS operator: events come out annotated with `sessionId`;
 * session records go to `outputs.sessions` (or the stream named by `output`) when the
 * watermark passes their `end + gap`, and at the latest when the source completes; late
 * events go to `outputs.late`.
 *
 * @example
 * ```ts
 * import { Subject, from } from 'rxjs';
 * import { sessionize, type SessionRecord } from 'tributary/operators';
 * const sessions = new Subject<Record<string, unknown>>();
 * sessions.subscribe((s) => console.log((s as SessionRecord).eventCount));
 * from(events).pipe(sessionize({ key: 'anonymousId', gap: '30m', outputs: { sessions } })).subscribe((e) => console.log(e.sessionId));
 * ```
 */
export function sessionize(options: SessionizeOptions & RxWiringOptions = {}): OperatorFunction<TributaryEvent, TributaryEvent> {
  const output = options.output ?? (options.outputs?.sessions ? 'sessions' : undefined);
  return keyedOperator(sessionizeOperator, { ...options, output });
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    sessionize: SessionizeOptions;
  }
}
