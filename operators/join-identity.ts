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
 */
import { createHash } from 'node:crypto';
import type { OperatorFunction } from 'rxjs';
import type { TributaryEvent } from '../lib/event/event.js';
import { resolveKey } from '../lib/event/key.js';
import { pathProblem } from '../lib/event/paths.js';
import { defineOperator, type DerivedRecord, type OperatorContext, type OperatorLogic } from '../lib/operator/contract.js';
import { deriveId } from '../lib/operator/ids.js';
import { keyedOperator, type RxWiringOptions } from '../lib/operator/rx.js';
import type { KeyValueStore } from '../lib/state/store.js';

/** Options of `joinIdentity` as written in a pipeline. */
export interface JoinIdentityOptions {
  /** Identifier fields (paths). Default `[userId, anonymousId]`; add traits such as `traits.emailHash`. */
  identifiers?: string[];
  /** Stream that receives merge and refusal records. Default `identity-merges`. */
  output?: string;
  /** User ids one person may hold; a link beyond it is refused unless it is an `alias`. Default 1. */
  maxUserIds?: number;
  /** Identifiers one person may hold; a link beyond it is refused. Default 100. */
  maxIdentifiersPerPerson?: number;
  /** Links that may be applied through one identifier; beyond it a link is refused. Default 50. */
  maxLinksPerIdentifier?: number;
  /**
   * How the Kafka runtime runs it (embedded runs are the same either way). `single-task`
   * (default): every event through one task behind a single-partition topic, person ids exactly
   * as embedded, at most one task's throughput. `global-table`: a lookup in every task over a
   * global table, one resolver task for the events that change the graph.
   */
  mode?: 'single-task' | 'global-table';
  /** Step name, when a pipeline has two joinIdentity steps. */
  name?: string;
}

/** Resolved options. */
export interface JoinIdentityConfig {
  identifiers: string[];
  output: string;
  maxUserIds: number;
  maxIdentifiersPerPerson: number;
  maxLinksPerIdentifier: number;
  mode: 'single-task' | 'global-table';
}

/** A typed identifier: `<field path>:<value>` (or `<field path>#<hash>` for long/odd values). */
export type Identifier = string;

/** Why a link was refused. */
export type RefusalReason = 'max-user-ids' | 'max-identifiers-per-person' | 'max-links-per-identifier';

/** An event after joinIdentity. */
export type PersonEvent = TributaryEvent & { personId: string };

/** A record on the identity-merges stream. */
export interface IdentityMergeRecord extends DerivedRecord {
  /** Deterministic: the same merge or refusal has the same id on every replay. */
  mergeId: string;
  status: 'merged' | 'refused';
  /** The survivor (for `refused`: the person that would have survived). */
  personId: string;
  /** The absorbed person (for `refused`: the one that would have been absorbed). */
  mergedPersonId: string;
  /** The linking pair `[anchor side, other side]`; for a provisional-id correction, the anchor alone. */
  identifiers: Identifier[];
  /** The event that caused it. */
  messageId: string;
  /** Its event time. */
  timestamp: number;
  /** Its `type` (`identify`, `alias`, `track`, …). */
  eventType: string;
  /** Only on `refused`. */
  reason?: RefusalReason;
  /** Only on `refused`: what exceeded which limit. */
  detail?: string;
  /** Only on a Kafka-mode correction of a provisional person id a lookup handed out. */
  provisional?: true;
}

/** `ids` store value: the identifier's person (always the survivor) and when it was first seen. */
export interface IdentifierEntry {
  personId: string;
  /** Least event time the identifier was seen at. */
  firstSeen: number;
}

/** `persons` store value. */
export interface PersonRecord {
  personId: string;
  identifiers: Identifier[];
  /** The `userId:` identifiers among `identifiers`. */
  userIds: Identifier[];
  /** Least `firstSeen` of its identifiers. */
  firstSeen: number;
  /** Every person id absorbed into this one, directly or through earlier merges. */
  absorbed: string[];
}

/** The part of the state every Kafka task reads (the global table); written only by the resolver. */
export interface IdentityTable {
  ids: KeyValueStore<string, IdentifierEntry>;
  absorbed: KeyValueStore<string, string>;
}

/** All state of the step; the resolver's own part stays on its single partition. */
export interface IdentityState extends IdentityTable {
  persons: KeyValueStore<string, PersonRecord>;
  links: KeyValueStore<string, number>;
  refused: KeyValueStore<[string, string], RefusalReason>;
}

/** What the lookup makes of an event. */
export interface LookupResult {
  /** The person of the event's anchor identifier (computed for an unknown one). */
  personId: string;
  /** Whether the resolver must see the event: a new identifier, an older sighting, a link across persons, an alias. */
  changesGraph: boolean;
  /** The event's identifiers, anchor first. */
  identifiers: Identifier[];
}

const MAX_PLAIN_VALUE = 200;
const MAX_PATH = 100;
// Store keys refuse U+0000..U+0004 (LMDB's key encoding uses them) and lone surrogates.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /[\u0000-\u0004]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const USER = 'userId';
const STREAM_NAME = '^[a-z][a-z0-9-]*$';

/**
 * The typed identifier of a field value.
 *
 * @example
 * ```ts
 * identifierOf('userId', 'u1');            // 'userId:u1'
 * identifierOf('traits.emailHash', 'x'.repeat(500)); // 'traits.emailHash#…' (hashed)
 * ```
 */
export function identifierOf(path: string, value: string): Identifier {
  if (value.length <= MAX_PLAIN_VALUE && !UNSTORABLE.test(value)) return `${path}:${value}`;
  return `${path}#${createHash('sha256').update(value).digest('hex').slice(0, 32)}`;
}

/**
 * The person id a new person gets from its first identifier. Deterministic, so a lookup that
 * misses can compute it without the resolver.
 *
 * @example
 * ```ts
 * personIdFor('anonymousId:a1'); // 'p-…' (32 hex chars)
 * ```
 */
export function personIdFor(identifier: Identifier): string {
  return deriveId('person', identifier);
}

const isUserId = (id: Identifier) => id.startsWith('userId:') || id.startsWith('userId#');

/**
 * Opens the step's stores from an operator context.
 *
 * @example
 * ```ts
 * const state = openIdentityState(recordingContext('joinIdentity'));
 * state.ids.get('userId:u1'); // { personId, firstSeen } or undefined
 * ```
 */
export function openIdentityState(ctx: Pick<OperatorContext, 'store'>): IdentityState {
  return {
    ids: ctx.store<string, IdentifierEntry>('ids'),
    absorbed: ctx.store<string, string>('absorbed'),
    persons: ctx.store<string, PersonRecord>('persons'),
    links: ctx.store<string, number>('links'),
    refused: ctx.store<[string, string], RefusalReason>('refused'),
  };
}

/**
 * Reads the identity table: the person of an event, of an identifier, of a (maybe absorbed)
 * person id. Never writes, so it can run in every Kafka task against the global table.
 *
 * @example
 * ```ts
 * const lookup = new IdentityLookup(config, state);
 * lookup.lookup(event);          // { personId: 'p-…', changesGraph: false, identifiers: ['userId:u1', 'anonymousId:a1'] }
 * lookup.personOf(absorbedId);   // the survivor's id
 * ```
 */
export class IdentityLookup {
  /** Identifier paths with `userId` first (the anchor preference), then the configured order. */
  private readonly order: readonly string[];
  private readonly aliases: boolean;

  constructor(private readonly config: JoinIdentityConfig, private readonly table: IdentityTable) {
    this.aliases = config.identifiers.includes(USER);
    this.order = this.aliases ? [USER, ...config.identifiers.filter((p) => p !== USER)] : config.identifiers;
  }

  /** The event's identifiers, anchor first, without repeats. */
  identifiersOf(event: TributaryEvent): Identifier[] {
    const out: Identifier[] = [];
    for (const path of this.order) {
      const v = resolveKey(event, path);
      if (v === undefined) continue;
      const id = identifierOf(path, v);
      if (!out.includes(id)) out.push(id);
    }
    return out;
  }

  /** The current person of an identifier, or `undefined` when it was never seen. */
  personOfIdentifier(identifier: Identifier): string | undefined {
    return this.table.ids.get(identifier)?.personId;
  }

  /** The survivor a person id resolves to (itself unless it was absorbed). */
  personOf(personId: string): string {
    let p = personId;
    for (let hops = 0; hops < 64; hops++) {
      const next = this.table.absorbed.get(p);
      if (next === undefined || next === p) return p;
      p = next;
    }
    throw new Error(`joinIdentity: absorbed-person chain from ${personId} does not end (store corrupt?)`);
  }

  /**
   * The typed identifier of an `alias` event's `previousId`: the identifier that already holds
   * that value (`userId` first, then the configured fields), else `userId:<value>`; `undefined`
   * for other events, for an alias without `userId`, or when `userId` is not a configured
   * identifier.
   */
  aliasTarget(event: TributaryEvent): Identifier | undefined {
    // An alias without its userId is malformed (Segment spec): its previousId links nothing.
    if (event.type !== 'alias' || !this.aliases || resolveKey(event, USER) === undefined) return undefined;
    const v = resolveKey(event, 'previousId');
    if (v === undefined) return undefined;
    for (const path of this.order) {
      const id = identifierOf(path, v);
      if (this.table.ids.has(id)) return id;
    }
    return identifierOf(USER, v);
  }

  /**
   * The person of the event's anchor identifier, and whether the event changes the graph. An
   * event with none of the identifiers is an error (the task dead-letters it before this step).
   */
  lookup(event: TributaryEvent): LookupResult {
    const identifiers = this.identifiersOf(event);
    const anchor = identifiers[0];
    if (anchor === undefined) {
      throw new Error(`joinIdentity: event ${event.messageId} has none of the identifiers ${this.config.identifiers.join(', ')}`);
    }
    const t = event.timestamp;
    const first = this.table.ids.get(anchor);
    const personId = first === undefined ? personIdFor(anchor) : first.personId;
    let changesGraph = first === undefined || t < first.firstSeen || (event.type === 'alias' && this.aliases && event.previousId != null);
    for (let i = 1; !changesGraph && i < identifiers.length; i++) {
      const e = this.table.ids.get(identifiers[i] as Identifier);
      changesGraph = e === undefined || t < e.firstSeen || e.personId !== personId;
    }
    return { personId, changesGraph, identifiers };
  }
}

/** Per-call state of {@link IdentityResolver.apply}. */
interface Applying {
  event: TributaryEvent;
  t: number;
  /** Persons created by this event: absorbing them is silent (no event ever carried their id). */
  created: Set<string>;
}

/** Options of {@link IdentityResolver.apply}. */
export interface ApplyOptions {
  /** The event's identifiers as the lookup computed them (saves recomputing). */
  identifiers?: Identifier[];
  /**
   * Kafka mode: the person id the lookup already gave the event. When the resolver puts the
   * anchor elsewhere and that id is no person, it is recorded as absorbed and reported.
   */
  provisional?: string;
}

/**
 * Changes the identity graph: sightings, links, merges, refusals, and their records. Single
 * writer of the state (in Kafka mode: the one task of the single-partition resolver topic).
 *
 * @example
 * ```ts
 * const state = openIdentityState(ctx);
 * const resolver = new IdentityResolver(config, state, (r) => ctx.emit('identity-merges', r));
 * resolver.apply({ messageId: 'm1', type: 'identify', userId: 'u1', anonymousId: 'a1', timestamp: 0 }); // 'p-…'
 * ```
 */
export class IdentityResolver {
  readonly lookup: IdentityLookup;

  constructor(
    private readonly config: JoinIdentityConfig,
    private readonly state: IdentityState,
    private readonly emit: (record: IdentityMergeRecord) => void,
  ) {
    this.lookup = new IdentityLookup(config, state);
  }

  /** Applies what the event says about identity; returns the personId of its anchor. */
  apply(event: TributaryEvent, options: ApplyOptions = {}): string {
    const identifiers = options.identifiers ?? this.lookup.identifiersOf(event);
    const anchor = identifiers[0];
    if (anchor === undefined) {
      throw new Error(`joinIdentity: event ${event.messageId} has none of the identifiers ${this.config.identifiers.join(', ')}`);
    }
    const s: Applying = { event, t: event.timestamp, created: new Set() };
    this.sight(s, anchor);
    // The alias link first: it may legitimately merge two user ids, after which the event's
    // other links are inside one person instead of refused.
    const previous = this.lookup.aliasTarget(event);
    if (previous !== undefined && previous !== anchor) this.link(s, anchor, previous, true);
    for (let i = 1; i < identifiers.length; i++) this.link(s, anchor, identifiers[i] as Identifier, false);
    const personId = (this.state.ids.get(anchor) as IdentifierEntry).personId;
    if (options.provisional !== undefined && options.provisional !== personId) this.correct(s, anchor, options.provisional, personId);
    return personId;
  }

  /** The anchor: a new person when never seen, else an older sighting lowers firstSeen. */
  private sight(s: Applying, id: Identifier): void {
    const e = this.state.ids.get(id);
    if (e === undefined) s.created.add(this.create(id, s.t));
    else if (s.t < e.firstSeen) this.lower(id, e, s.t);
  }

  private create(id: Identifier, t: number): string {
    const personId = personIdFor(id);
    this.state.ids.put(id, { personId, firstSeen: t });
    this.state.persons.put(personId, { personId, identifiers: [id], userIds: isUserId(id) ? [id] : [], firstSeen: t, absorbed: [] });
    return personId;
  }

  private lower(id: Identifier, e: IdentifierEntry, t: number): void {
    this.state.ids.put(id, { personId: e.personId, firstSeen: t });
    const p = this.person(e.personId);
    if (t < p.firstSeen) this.state.persons.put(p.personId, { ...p, firstSeen: t });
  }

  private person(personId: string): PersonRecord {
    const p = this.state.persons.get(personId);
    if (p === undefined) throw new Error(`joinIdentity: person ${personId} is in the ids store but not in persons (store corrupt?)`);
    return p;
  }

  /** Links `y` to the person of the anchor `x` (which exists by now). */
  private link(s: Applying, x: Identifier, y: Identifier, alias: boolean): void {
    const px = (this.state.ids.get(x) as IdentifierEntry).personId;
    const ey = this.state.ids.get(y);
    if (ey === undefined) {
      // First sighting, in a link: join the anchor's person, unless a guard refuses it.
      const P = this.person(px);
      const single: PersonRecord = { personId: personIdFor(y), identifiers: [y], userIds: isUserId(y) ? [y] : [], firstSeen: s.t, absorbed: [] };
      const refusal = this.refusal(P, single, x, y, alias);
      if (refusal) {
        s.created.add(this.create(y, s.t));
        const [S, D] = survivorFirst(P, single);
        this.refuse(s, x, y, S.personId, D.personId, refusal);
        return;
      }
      this.state.ids.put(y, { personId: px, firstSeen: s.t });
      this.state.persons.put(px, {
        ...P,
        identifiers: [...P.identifiers, y],
        userIds: single.userIds.length ? [...P.userIds, y] : P.userIds,
        firstSeen: Math.min(P.firstSeen, s.t),
      });
      this.countLinks(x, y);
      return;
    }
    if (s.t < ey.firstSeen) this.lower(y, ey, s.t);
    if (ey.personId !== px) this.merge(s, x, y, px, ey.personId, alias);
  }

  private merge(s: Applying, x: Identifier, y: Identifier, px: string, py: string, alias: boolean): void {
    const A = this.person(px);
    const B = this.person(py);
    const [S, D] = survivorFirst(A, B);
    const refusal = this.refusal(A, B, x, y, alias);
    if (refusal) {
      this.refuse(s, x, y, S.personId, D.personId, refusal);
      return;
    }
    const { ids, absorbed, persons } = this.state;
    for (const id of D.identifiers) {
      const e = ids.get(id);
      ids.put(id, { personId: S.personId, firstSeen: e?.firstSeen ?? s.t });
    }
    // A person created by this very event was never handed out: absorbing it needs no record.
    const silent = s.created.has(D.personId);
    const gone = silent ? [] : [...D.absorbed, D.personId];
    for (const a of gone) absorbed.put(a, S.personId);
    persons.delete(D.personId);
    persons.put(S.personId, {
      personId: S.personId,
      identifiers: [...S.identifiers, ...D.identifiers],
      userIds: [...S.userIds, ...D.userIds],
      firstSeen: Math.min(S.firstSeen, D.firstSeen),
      absorbed: [...S.absorbed, ...gone],
    });
    this.countLinks(x, y);
    if (silent) return;
    this.emit({
      mergeId: deriveId('identity-merges', 'merged', S.personId, D.personId),
      status: 'merged',
      personId: S.personId,
      mergedPersonId: D.personId,
      identifiers: [x, y],
      messageId: s.event.messageId,
      timestamp: s.t,
      eventType: s.event.type,
    });
  }

  /** Which guard a link between persons `A` and `B` through `x`–`y` breaks, if any, and how. */
  private refusal(A: PersonRecord, B: PersonRecord, x: Identifier, y: Identifier, alias: boolean): [RefusalReason, string] | undefined {
    const c = this.config;
    const users = A.userIds.length + B.userIds.length;
    if (!alias && A.userIds.length > 0 && B.userIds.length > 0 && users > c.maxUserIds) {
      return ['max-user-ids', `${A.userIds.join(', ')} and ${B.userIds.join(', ')} would be ${users} user ids in one person (maxUserIds ${c.maxUserIds}; only an alias merges user ids)`];
    }
    const n = A.identifiers.length + B.identifiers.length;
    if (n > c.maxIdentifiersPerPerson) {
      return ['max-identifiers-per-person', `the merged person would hold ${n} identifiers (maxIdentifiersPerPerson ${c.maxIdentifiersPerPerson})`];
    }
    for (const id of [x, y]) {
      const links = this.state.links.get(id) ?? 0;
      if (links >= c.maxLinksPerIdentifier) {
        return ['max-links-per-identifier', `${id} already has ${links} links (maxLinksPerIdentifier ${c.maxLinksPerIdentifier})`];
      }
    }
    return undefined;
  }

  private refuse(s: Applying, x: Identifier, y: Identifier, personId: string, mergedPersonId: string, [reason, detail]: [RefusalReason, string]): void {
    const pair: [string, string] = x < y ? [x, y] : [y, x];
    // Once per pair: the family laptop sends the same refused pair with every event of u2.
    if (this.state.refused.has(pair)) return;
    this.state.refused.put(pair, reason);
    this.emit({
      mergeId: deriveId('identity-merges', 'refused', pair[0], pair[1]),
      status: 'refused',
      personId,
      mergedPersonId,
      identifiers: [x, y],
      messageId: s.event.messageId,
      timestamp: s.t,
      eventType: s.event.type,
      reason,
      detail,
    });
  }

  private countLinks(x: Identifier, y: Identifier): void {
    const { links } = this.state;
    links.put(x, (links.get(x) ?? 0) + 1);
    links.put(y, (links.get(y) ?? 0) + 1);
  }

  /** Kafka mode: the lookup handed out `provisional` for the anchor; the resolver says `personId`. */
  private correct(s: Applying, anchor: Identifier, provisional: string, personId: string): void {
    // A real person id resolves through `absorbed` already; only a never-created id needs recording.
    if (this.lookup.personOf(provisional) !== provisional || this.state.persons.has(provisional)) return;
    this.state.absorbed.put(provisional, personId);
    const P = this.person(personId);
    this.state.persons.put(personId, { ...P, absorbed: [...P.absorbed, provisional] });
    this.emit({
      mergeId: deriveId('identity-merges', 'merged', personId, provisional),
      status: 'merged',
      personId,
      mergedPersonId: provisional,
      identifiers: [anchor],
      messageId: s.event.messageId,
      timestamp: s.t,
      eventType: s.event.type,
      provisional: true,
    });
  }
}

/** `[survivor, absorbed]`: least firstSeen survives, ties to the smaller person id. */
function survivorFirst(A: PersonRecord, B: PersonRecord): [PersonRecord, PersonRecord] {
  if (A.firstSeen < B.firstSeen || (A.firstSeen === B.firstSeen && A.personId < B.personId)) return [A, B];
  return [B, A];
}

/**
 * The embedded step: lookup, and the resolver when the event changes the graph.
 *
 * @example
 * ```ts
 * const ctx = recordingContext('joinIdentity');
 * const logic = new JoinIdentityLogic(joinIdentityOperator.resolve({}), ctx);
 * logic.process(event, ''); // { ...event, personId: 'p-…' }
 * ctx.emitted;              // identity-merges records
 * ```
 */
export class JoinIdentityLogic implements OperatorLogic {
  readonly lookup: IdentityLookup;
  readonly resolver: IdentityResolver;

  constructor(config: JoinIdentityConfig, private readonly ctx: OperatorContext) {
    const state = openIdentityState(ctx);
    this.resolver = new IdentityResolver(config, state, (r) => ctx.emit(config.output, r));
    this.lookup = this.resolver.lookup;
  }

  process(event: TributaryEvent): PersonEvent {
    const r = this.lookup.lookup(event);
    const personId = r.changesGraph ? this.resolver.apply(event, { identifiers: r.identifiers }) : r.personId;
    return this.ctx.annotate(event, 'personId', personId) as PersonEvent;
  }
}

/**
 * Kafka `global-table` mode, in every task: enriches an event from the global table, or, when
 * the event changes the graph, hands it (with the provisional `personId` the table gives) to the
 * resolver through `toResolver` and drops it here: the resolver forwards it with its final id.
 */
export class JoinIdentityLookupLogic implements OperatorLogic {
  private readonly lookup: IdentityLookup;

  constructor(config: JoinIdentityConfig, table: IdentityTable, private readonly toResolver: (event: PersonEvent) => void) {
    this.lookup = new IdentityLookup(config, table);
  }

  process(event: TributaryEvent): PersonEvent | null {
    const r = this.lookup.lookup(event);
    if (r.changesGraph) {
      this.toResolver({ ...event, personId: r.personId });
      return null;
    }
    return { ...event, personId: r.personId };
  }
}

/**
 * Kafka `global-table` mode, the one resolver task: applies an event the lookup handed over (its
 * `personId` is the provisional id the lookup gave it) and passes it on with the resolved id.
 */
export class JoinIdentityResolverLogic implements OperatorLogic {
  private readonly resolver: IdentityResolver;

  constructor(config: JoinIdentityConfig, ctx: OperatorContext) {
    this.resolver = new IdentityResolver(config, openIdentityState(ctx), (r) => ctx.emit(config.output, r));
  }

  process(event: TributaryEvent): PersonEvent {
    const { personId: provisional, ...rest } = event as PersonEvent;
    const personId = this.resolver.apply(rest, typeof provisional === 'string' ? { provisional } : {});
    return { ...rest, personId };
  }
}

function positiveInt(name: string, value: number | undefined, dflt: number, min: number): number {
  const v = value ?? dflt;
  if (!Number.isInteger(v) || v < min) throw new Error(`joinIdentity.${name}: ${JSON.stringify(value)} is not an integer ≥ ${min}`);
  return v;
}

/** The `joinIdentity` operator definition (registry entry). */
export const joinIdentityOperator = defineOperator<JoinIdentityOptions, JoinIdentityConfig>({
  name: 'joinIdentity',
  summary: 'resolve identifiers (userId, anonymousId, traits) to a stable personId; merges and refusals to an output',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      identifiers: {
        description: 'identifier field paths (default [userId, anonymousId]); e.g. add traits.emailHash',
        type: 'array',
        items: { type: 'string', minLength: 1, maxLength: MAX_PATH, pattern: '^[^:#]+$' },
        minItems: 1,
        uniqueItems: true,
      },
      output: { description: 'stream receiving merge and refusal records (default identity-merges)', type: 'string', pattern: STREAM_NAME },
      maxUserIds: { description: 'user ids one person may hold; only an alias goes beyond (default 1)', type: 'integer', minimum: 1 },
      maxIdentifiersPerPerson: { description: 'identifiers one person may hold (default 100)', type: 'integer', minimum: 2 },
      maxLinksPerIdentifier: { description: 'links applied through one identifier (default 50)', type: 'integer', minimum: 1 },
      mode: {
        description: 'Kafka runtime: single-task (default; every event through one task, ids as embedded) or global-table (a lookup in every task, one resolver task; eventually consistent)',
        enum: ['single-task', 'global-table'],
      },
      name: { description: 'step name (default joinIdentity)', type: 'string', pattern: STREAM_NAME },
    },
  },
  resolve(options) {
    const identifiers = options.identifiers ?? [USER, 'anonymousId'];
    if (identifiers.length === 0) throw new Error('joinIdentity.identifiers: list at least one field path (e.g. [userId, anonymousId])');
    for (const p of identifiers) {
      const problem = pathProblem(p) ?? (/[:#]/.test(p) ? 'contains ":" or "#"' : p.length > MAX_PATH ? `longer than ${MAX_PATH}` : undefined);
      if (problem) throw new Error(`joinIdentity.identifiers: ${JSON.stringify(p)} is not usable (${problem})`);
      if (p === 'personId') throw new Error('joinIdentity.identifiers: personId is what joinIdentity writes; it cannot be an identifier');
    }
    if (new Set(identifiers).size !== identifiers.length) throw new Error(`joinIdentity.identifiers: ${JSON.stringify(identifiers)} lists a field twice`);
    return {
      identifiers: [...identifiers],
      output: options.output ?? 'identity-merges',
      maxUserIds: positiveInt('maxUserIds', options.maxUserIds, 1, 1),
      maxIdentifiersPerPerson: positiveInt('maxIdentifiersPerPerson', options.maxIdentifiersPerPerson, 100, 2),
      maxLinksPerIdentifier: positiveInt('maxLinksPerIdentifier', options.maxLinksPerIdentifier, 50, 1),
      mode: options.mode ?? 'single-task',
    };
  },
  // Not a partitioning key (the graph is global): it makes the task dead-letter an event with
  // none of the identifiers, and the logic reads the identifiers itself.
  keyPaths: (c) => c.identifiers,
  // One identity graph for all partitions: never repartitioned by its identifiers.
  partitioning: (c) => (c.mode === 'global-table' ? 'global-table' : 'global'),
  outputs: (c) => [{ stream: c.output, kind: 'identity-merges', key: ['personId'] }],
  stores: () => ['ids', 'absorbed', 'persons', 'links', 'refused'],
  create: (c, ctx) => new JoinIdentityLogic(c, ctx),
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
export function joinIdentity(options: JoinIdentityOptions & RxWiringOptions = {}): OperatorFunction<TributaryEvent, PersonEvent> {
  return keyedOperator(joinIdentityOperator, options) as OperatorFunction<TributaryEvent, PersonEvent>;
}

declare module '../lib/pipeline/builder.js' {
  interface StepOptionsMap {
    joinIdentity: JoinIdentityOptions;
  }
}
