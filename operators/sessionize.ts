/**
 * `sessionize`: gap-based sessions per key in event time. Events pass through
 * annotated with `sessionId`; when the watermark passes a session's `end + gap`, one record
 * goes to the `sessions` output.
 *
 * One job per file: this one wires the operator (its definition and the RxJS operator). The
 * sessions' semantics and the per-key logic are in operators/sessionize/logic.ts, the options
 * and their validation in operators/sessionize/options.ts, the output records in
 * operators/sessionize/records.ts, the per-key state in operators/sessionize/state.ts, the query
 * API (a key's open sessions) in operators/sessionize/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import type { TributaryEvent } from '../lib/event/event.js';
import { SessionizeLogic } from './sessionize/logic.js';
import { sessionizeQuery } from './sessionize/query.js';
import { resolveSessionizeOptions, sessionizeOptionsSchema, type SessionizeConfig, type SessionizeOptions } from './sessionize/options.js';

export { SessionizeLogic } from './sessionize/logic.js';
export type { SessionizeOptions, SessionizeConfig } from './sessionize/options.js';
export { sessionizeQuery, type OpenSessionState, type SessionizeKeyState } from './sessionize/query.js';
export { sessionRecord, type SessionEventRef, type SessionRecord } from './sessionize/records.js';
export type { SessionState, OpenSession } from './sessionize/state.js';

/** The `sessionize` operator definition (registry entry). */
export const sessionizeOperator = defineOperator<SessionizeOptions, SessionizeConfig>({
  name: 'sessionize',
  summary: 'gap-based sessions per key in event time; events annotated with sessionId, one record per closed session',
  optionsSchema: sessionizeOptionsSchema,
  resolve: resolveSessionizeOptions,
  keyPaths: (c) => c.key,
  outputs: (c) => (c.output ? [{ stream: c.output, kind: 'sessions', key: ['key'] }] : []),
  stores: () => ['sessions'],
  create: (c, ctx) => new SessionizeLogic(c, ctx),
  query: (c, store, key) => sessionizeQuery(c, store('sessions'), key),
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
export function sessionize(options: SessionizeOptions & RxWiringOptions = {}): OperatorFunction<IncomingEvent, TributaryEvent> {
  const output = options.output ?? (options.outputs?.sessions ? 'sessions' : undefined);
  return keyedOperator(sessionizeOperator, { ...options, output });
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    sessionize: SessionizeOptions;
  }
}
