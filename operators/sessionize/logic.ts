/**
 * The per-key logic of `sessionize` ({@link SessionizeLogic}): gap sessions in event time, their
 * state and their close timers. Wired by operators/sessionize.ts.
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
 */
import type { OperatorContext, OperatorLogic } from '../../lib/operator/contract.js';
import { deriveId } from '../../lib/operator/ids.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { Entry, KeyValueStore, StoreKey } from '../../lib/state/store.js';
import { MemoryTimers } from '../../lib/time/timers.js';
import type { SessionizeConfig } from './options.js';
import { eventName, refOf, sessionRecord, str } from './records.js';
import { addCount, addCountInPlace, firstFrom, insertSorted, replaced, unionSorted, withSorted, type OpenSession, type SessionState, type SessionStore } from './state.js';

/** What a close timer points at: the key and start of its session. */
type TimerData = readonly [key: string, start: number];

interface Candidate {
  start: number;
  state: OpenSession;
  /** Distance from the event to the session, 0 when inside it. */
  dist: number;
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

    const s = target.state;
    if (candidates.length === 1 && t >= target.start) {
      // Most events: one session takes the event and keeps its start (its id and timer too). It is
      // changed in place and put back here, in this call (see `immutableState`): what the copying
      // path below would build, without a copy of its lists per event.
      if (t > s.end) s.end = t;
      s.count++;
      addCountInPlace(s.counts, name);
      if (channel) insertSorted(s.channels, channel);
      if (t < s.first.timestamp) s.first = ref;
      if (t >= s.last.timestamp) s.last = ref;
      this.sessions.put(key, list as readonly OpenSession[]);
      return this.ctx.annotate(event, 'sessionId', s.id);
    }
    let start = Math.min(target.start, t);
    let end = Math.max(s.end, t);
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
