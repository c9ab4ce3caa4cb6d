/**
 * The write side of `joinIdentity` ({@link IdentityResolver}): sightings, links, merges,
 * refusals and their records. The single writer of the identity state.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { deriveId } from '../../lib/operator/ids.js';
import { isUserId, personIdFor, type Identifier } from './identifiers.js';
import { IdentityLookup } from './lookup.js';
import type { JoinIdentityConfig } from './options.js';
import type { IdentityMergeRecord, RefusalReason } from './records.js';
import type { IdentifierEntry, IdentityState, PersonRecord } from './state.js';

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
