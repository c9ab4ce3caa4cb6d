/**
 * The output records of `sessionize`: the sessions record of a closed session
 * ({@link sessionRecord}) and how an event is referred to in it ({@link refOf}).
 */
import type { DerivedRecord } from '../../lib/operator/contract.js';
import type { TributaryEvent } from '../../lib/event/event.js';
import type { SessionState } from './state.js';

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

/** The name an event is counted under: `event` for track events, else `type`. */
export function eventName(e: TributaryEvent): string {
  if (e.type !== 'track') return String(e.type);
  return typeof e.event === 'string' && e.event.length > 0 ? e.event : 'track';
}

/** `v` when it is a non-empty string, else null. */
export function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function pageOf(e: TributaryEvent): string | null {
  const props = e.properties;
  const page = e.context?.page as Record<string, unknown> | undefined;
  const pageObj = page !== null && typeof page === 'object' ? page : undefined;
  return str(props?.url) ?? str(props?.path) ?? str(pageObj?.url) ?? str(pageObj?.path);
}

export function refOf(e: TributaryEvent): SessionEventRef {
  return { messageId: e.messageId, event: eventName(e), timestamp: e.timestamp, page: pageOf(e) };
}

/**
 * `[name, count]` pairs as an object, like `Object.fromEntries` (same keys, same order) but
 * built by assignment, which gives an object with fast properties: about twice as quick to make
 * and to write as JSON. `__proto__` is defined as an own property, as `Object.fromEntries` does.
 */
function countsObject(counts: ReadonlyArray<readonly [string, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of counts) {
    if (name === '__proto__') Object.defineProperty(out, name, { value: n, enumerable: true, writable: true, configurable: true });
    else out[name] = n;
  }
  return out;
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
    eventCounts: countsObject(s.counts),
    firstEvent: s.first,
    lastEvent: s.last,
    channels: s.channels,
    mergedFrom: s.mergedFrom,
  };
}
