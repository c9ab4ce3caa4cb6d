/**
 * The query API of `sessionize` ({@link sessionizeQuery}): a key's open sessions, read from the
 * step's `sessions` store, for `GET /state/<step>/<key>`.
 */
import type { SessionizeConfig } from './options.js';
import { sessionRecord, type SessionRecord } from './records.js';
import type { SessionStore } from './state.js';

/** An open session as the query returns it: the record it would close with, and when it closes. */
export type OpenSessionState = Omit<SessionRecord, 'key'> & {
  /** `end + gap` (epoch ms): the session closes (and its record is written) once the watermark passes it. */
  closesAt: number;
};

/** What `GET /state/<sessionize step>/<key>` returns. */
export interface SessionizeKeyState {
  key: string;
  /** The key's open sessions, by start. */
  sessions: OpenSessionState[];
}

/**
 * The open sessions of `key`, or `undefined` when it has none (never seen, or every session of it
 * closed). The key is the session key's value as the step reads it from the event (the first
 * non-null of its `key` paths: by default the `personId`, else the `anonymousId`, else the
 * `userId`). Each session has the fields of the record it will close with, as they are now
 * (`sessionId`, `start`, `end`, `durationMs`, `eventCount`, `eventCounts`, `firstEvent`,
 * `lastEvent`, `channels`, `mergedFrom`), plus `closesAt`.
 *
 * @example
 * ```ts
 * // GET /state/sessionize/a1 after two page views of a1 at 0 and 60000 (gap 30m):
 * sessionizeQuery(config, driver.store('sessionize', 'sessions'), 'a1');
 * // { key: 'a1', sessions: [{ sessionId: 's-…', start: 0, end: 60000, durationMs: 60000, eventCount: 2,
 * //   eventCounts: { product_viewed: 2 }, firstEvent: { messageId: 'm1', event: 'product_viewed', timestamp: 0, page: null },
 * //   lastEvent: { …, timestamp: 60000 }, channels: [], mergedFrom: [], closesAt: 1860000 }] }
 * ```
 */
export function sessionizeQuery(config: SessionizeConfig, sessions: SessionStore, key: string): SessionizeKeyState | undefined {
  const list = sessions.get(key);
  if (!list || list.length === 0) return undefined;
  return {
    key,
    sessions: list.map((s) => {
      const { key: _key, ...record } = sessionRecord(key, s.start, s);
      return { ...record, firstEvent: { ...record.firstEvent }, lastEvent: { ...record.lastEvent }, channels: [...record.channels], mergedFrom: [...record.mergedFrom], closesAt: s.end + config.gapMs };
    }),
  };
}
