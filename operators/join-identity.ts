/**
 * `joinIdentity`: an identity graph over identifiers (`userId`, `anonymousId`, any
 * configured trait). Every event passes through with the `personId` of its person; merges and
 * refused links go to the `identity-merges` output.
 *
 * The step is split in two, for the Kafka runtime:
 *
 * - {@link IdentityLookup} only READS the identifier → person table (and absorbed → survivor).
 *   It enriches an event, and says whether the event would change the graph. Every Kafka task
 *   holds the table as a global table (a compacted topic restored into LMDB).
 * - {@link IdentityResolver} CHANGES the graph: sightings, links, merges, refusals, merge records.
 *   In Kafka mode it runs on a single-partition internal topic fed only by the events the lookup
 *   flags (`changesGraph`), and its writes to `ids` and `absorbed` are the compacted topic.
 *
 * Embedded (this operator, the RxJS operator, the test driver) runs both in one step: the
 * lookup first, the resolver only when the lookup says the event changes the graph.
 *
 * Model and rules (the README of this operator; tests in test/operators/join-identity.*):
 *
 * - Identifiers are typed strings `<field path>:<value>` (`userId:u1`, `anonymousId:a1`,
 *   `traits.emailHash:9f…`), so equal values of different fields never collide. A value over
 *   200 characters, or one a store key cannot hold (U+0000..U+0004, lone surrogates), is kept as
 *   `<path>#<sha-256 prefix>`.
 * - A new person's id is `deriveId('person', <its first identifier>)` (`p-…`), so a lookup miss
 *   can compute it without the resolver, and every replay gives the same ids.
 * - The event's anchor is its `userId` identifier when it has one, else its first identifier in
 *   the configured order. The event resolves to the anchor's person: an event that carries a
 *   `userId` always resolves to that user's person, even when a link it asks for is refused.
 * - Links: every other identifier of the event is linked to the anchor (an `identify` links
 *   anonymousId↔userId; any event with two configured identifiers links them). An `alias` links
 *   `previousId`↔`userId`, before the event's other links (an alias without `userId` links nothing). `previousId` is typed as the
 *   identifier that already holds that value (`userId:` first, then the configured fields in
 *   order), else as `userId:` (an alias's previous id is usually an older user id; an anonymous id
 *   it names has normally been seen, since the device sent events before signing up).
 * - A first sighting of an identifier that comes with no link makes a person of its own, with
 *   `firstSeen` = its event time. An identifier first seen in a link joins the anchor's person
 *   (or, when the anchor is new too, the new person of the anchor); no merge record, since no
 *   event ever carried another person id for it.
 * - Merge: when a link joins two persons, the one whose first identifier was seen first (least
 *   `firstSeen`, event time; ties → the smaller personId) survives. `firstSeen` of an identifier
 *   is the least event time it was seen at, so an out-of-order first sighting (within the
 *   allowed lateness) counts. The absorbed person's identifiers are rewritten to the survivor
 *   (at most `maxIdentifiersPerPerson` writes), absorbed → survivor is kept forever, and earlier
 *   absorbed ids are re-pointed at the new survivor (path compression on write: every chain is
 *   one hop). One `merged` record per merge.
 * - Refusals (reported once per identifier pair, as a `refused` record with its `reason`; the
 *   link is not applied): `max-user-ids` (both persons hold user ids and together more than
 *   `maxUserIds`; an `alias` overrides it, the only way two user ids merge by default),
 *   `max-identifiers-per-person`, `max-links-per-identifier` (links applied through one
 *   identifier: a kiosk device, a test account). A new identifier whose link is refused gets a
 *   person of its own.
 * - State lives in five stores of the step: `ids` (identifier → {personId, firstSeen}),
 *   `absorbed` (absorbed personId → survivor), `persons` (personId → {@link PersonRecord}),
 *   `links` (identifier → links applied through it), `refused` ([a, b] → reason). Nothing is
 *   kept in memory between events, so a restart from LMDB resolves exactly as before. Nothing
 *   expires: identity is long-lived; the caps bound each person.
 *
 * Consistency in Kafka mode (design; the Kafka runtime is not built yet). The lookup enriches
 * every event at once from its copy of the table. An event it flags goes to the resolver as well,
 * with the provisional personId it was given ({@link IdentityResolver.apply} `provisional`):
 * - an event can be enriched before a merge reaches its task: it carries the absorbed person's
 *   id; the `merged` record (absorbed → survivor) resolves it later, and a lookup of that id
 *   (`personOf`) gives the survivor;
 * - an event whose identifier the table does not know yet gets `deriveId('person', anchor)`.
 *   If the resolver puts that identifier elsewhere (its link overtook the sighting, or the
 *   anchor was new and joined an older person), it records that provisional id as absorbed and
 *   writes a `merged` record with `provisional: true`, so nothing carried by any event is left
 *   unresolvable;
 * - sightings are forwarded too (not waited for), so the survivor rule sees first sightings by
 *   event time. The graph itself is exact: one resolver applies every change in one order.
 *   Persons downstream (sessions, windows keyed by personId) are eventually consistent: merge
 *   records are the corrections.
 *
 * One job per file: this one wires the operator (its definition and the RxJS operator). The
 * identifiers are made in operators/join-identity/identifiers.ts, the options resolved in
 * operators/join-identity/options.ts, the stores described in operators/join-identity/state.ts,
 * the output records in operators/join-identity/records.ts; the lookup and the resolver are
 * operators/join-identity/lookup.ts and resolver.ts, the logic the runtimes run
 * operators/join-identity/logic.ts, the query API (a person by identifier or person id)
 * operators/join-identity/query.ts.
 */
import type { OperatorFunction } from 'rxjs';
import { defineOperator } from '../lib/operator/contract.js';
import { keyedOperator, type IncomingEvent, type RxWiringOptions } from '../lib/operator/rx.js';
import { JoinIdentityLogic, JoinIdentityLookupLogic, JoinIdentityResolverLogic } from './join-identity/logic.js';
import { joinIdentityOptionsSchema, resolveJoinIdentityOptions, type JoinIdentityConfig, type JoinIdentityOptions } from './join-identity/options.js';
import { joinIdentityQuery } from './join-identity/query.js';
import { forgetInIdentity } from './join-identity/forget.js';
import type { PersonEvent } from './join-identity/records.js';

export { identifierOf, personIdFor } from './join-identity/identifiers.js';
export type { Identifier } from './join-identity/identifiers.js';
export { JoinIdentityLogic, JoinIdentityLookupLogic, JoinIdentityResolverLogic } from './join-identity/logic.js';
export { IdentityLookup } from './join-identity/lookup.js';
export type { LookupResult } from './join-identity/lookup.js';
export type { JoinIdentityConfig, JoinIdentityOptions } from './join-identity/options.js';
export { joinIdentityQuery } from './join-identity/query.js';
export type { IdentityQueryStores, PersonState } from './join-identity/query.js';
export type { IdentityMergeRecord, PersonEvent, RefusalReason } from './join-identity/records.js';
export { IdentityResolver } from './join-identity/resolver.js';
export type { ApplyOptions } from './join-identity/resolver.js';
export { openIdentityState } from './join-identity/state.js';
export type { IdentifierEntry, IdentityState, IdentityTable, PersonRecord } from './join-identity/state.js';

/** The `joinIdentity` operator definition (registry entry). */
export const joinIdentityOperator = defineOperator<JoinIdentityOptions, JoinIdentityConfig>({
  name: 'joinIdentity',
  summary: 'resolve identifiers (userId, anonymousId, traits) to a stable personId; merges and refusals to an output',
  optionsSchema: joinIdentityOptionsSchema,
  resolve: resolveJoinIdentityOptions,
  // Not a partitioning key (the graph is global): it makes the task dead-letter an event with
  // none of the identifiers, and the logic reads the identifiers itself.
  keyPaths: (c) => c.identifiers,
  // One identity graph for all partitions: never repartitioned by its identifiers.
  partitioning: (c) => (c.mode === 'global-table' ? 'global-table' : 'global'),
  outputs: (c) => [{ stream: c.output, kind: 'identity-merges', key: ['personId'] }],
  stores: () => ['ids', 'absorbed', 'persons', 'links', 'refused'],
  create: (c, ctx) => new JoinIdentityLogic(c, ctx),
  forget: (_c, store, subject) => forgetInIdentity(store, subject),
  query: (_c, store, key) => joinIdentityQuery({ ids: store('ids'), absorbed: store('absorbed'), persons: store('persons') }, key),
  // Identity records are replaced, never changed in place (copy-on-write in the resolver).
  immutableState: true,
  globalTable: {
    stores: () => ['ids', 'absorbed'],
    lookup: (c, table, toResolver) => new JoinIdentityLookupLogic(c, { ids: table('ids'), absorbed: table('absorbed') }, toResolver),
    resolver: (c, ctx) => new JoinIdentityResolverLogic(c, ctx),
  },
});

/**
 * `joinIdentity` as a pipeable RxJS operator: every event comes out with `personId`; merge and
 * refusal records go to `outputs['identity-merges']` (or the stream named by `output`), late
 * events to `outputs.late`. State is in memory unless `stores` is an `LmdbStoreFactory`.
 *
 * @example
 * ```ts
 * import { Subject, from } from 'rxjs';
 * import { joinIdentity } from 'tributary/operators';
 * const merges = new Subject<Record<string, unknown>>();
 * merges.subscribe((m) => console.log(m.status, m.mergedPersonId, '→', m.personId));
 * from(events).pipe(joinIdentity({ outputs: { 'identity-merges': merges } })).subscribe((e) => console.log(e.personId));
 * ```
 */
export function joinIdentity(options: JoinIdentityOptions & RxWiringOptions = {}): OperatorFunction<IncomingEvent, PersonEvent> {
  return keyedOperator(joinIdentityOperator, options) as OperatorFunction<IncomingEvent, PersonEvent>;
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    joinIdentity: JoinIdentityOptions;
  }
}
