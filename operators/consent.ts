/**
 * `consent`: consent as shared state. Keeps, per key (default `personId`) and channel, the latest
 * consent value by event time from the events that carry consent flags (`context.consent:
 * { email: true, sms: false }`, e.g. identify or track calls), and annotates every passing event
 * with the merged consent in force at its event time — at `context.consent` by default, so a
 * `trigger` with `consent:` gates on it unchanged downstream. Semantics in
 * operators/consent/logic.ts, the state layout and its pruning in operators/consent/state.ts,
 * the query API in operators/consent/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { ConsentLogic } from './consent/logic.js';
import { consentOptionsSchema, resolveConsentOptions, type ConsentConfig, type ConsentOptions } from './consent/options.js';
import { consentQuery } from './consent/query.js';

export { ConsentLogic } from './consent/logic.js';
export { consentQuery, type ConsentKeyState } from './consent/query.js';
export { resolveConsentOptions, type ConsentOptions, type ConsentConfig } from './consent/options.js';
export type { ConsentState, ChannelHistory } from './consent/state.js';

/** The `consent` operator definition (registry entry). */
export const consentOperator = defineOperator<ConsentOptions, ConsentConfig>({
  name: 'consent',
  summary: 'latest consent per key and channel (event time) → every event annotated with the consent in force at its time',
  optionsSchema: consentOptionsSchema,
  resolve: (o) => resolveConsentOptions(o),
  keyPaths: (c) => c.key,
  outputs: () => [],
  stores: () => ['keys'],
  create: (c, ctx) => new ConsentLogic(c, ctx),
  query: (_c, store, key) => consentQuery(store('keys'), key),
  // A key's value is changed in place only to be put back in the same call (state.ts `record`).
  immutableState: true,
});

/**
 * `consent` as a pipeable RxJS operator.
 *
 * @example
 * ```ts
 * events$.pipe(consentEvents({ key: 'userId' })).subscribe((e) => e.context?.consent); // { email: true, … }
 * ```
 */
export function consentEvents(options: ConsentOptions & RxWiringOptions = {}): OperatorFunction<IncomingEvent, TributaryEvent> {
  return keyedOperator(consentOperator, options);
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    consent: ConsentOptions;
  }
}
