/**
 * The read side of `joinIdentity` ({@link IdentityLookup}): the person of an event, of an
 * identifier, of a (maybe absorbed) person id, and whether an event would change the graph.
 */
import type { TributaryEvent } from '../../lib/event/event.js';
import { resolveKey } from '../../lib/event/key.js';
import { identifierOf, personIdFor, USER, type Identifier } from './identifiers.js';
import type { JoinIdentityConfig } from './options.js';
import type { IdentityTable } from './state.js';

/** What the lookup makes of an event. */
export interface LookupResult {
  /** The person of the event's anchor identifier (computed for an unknown one). */
  personId: string;
  /** Whether the resolver must see the event: a new identifier, an older sighting, a link across persons, an alias. */
  changesGraph: boolean;
  /** The event's identifiers, anchor first. */
  identifiers: Identifier[];
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
  /** Per path (in {@link order}): the last value seen and its identifier. */
  private readonly lastValue: Array<string | undefined> = [];
  private readonly lastId: Array<Identifier | undefined> = [];

  constructor(private readonly config: JoinIdentityConfig, private readonly table: IdentityTable) {
    this.aliases = config.identifiers.includes(USER);
    this.order = this.aliases ? [USER, ...config.identifiers.filter((p) => p !== USER)] : config.identifiers;
  }

  /** The event's identifiers, anchor first, without repeats. */
  identifiersOf(event: TributaryEvent): Identifier[] {
    const out: Identifier[] = [];
    const order = this.order;
    for (let i = 0; i < order.length; i++) {
      const path = order[i] as string;
      const v = resolveKey(event, path);
      if (v === undefined) continue;
      // A customer's events come in runs: the identifier of the last value seen per path is kept,
      // so a run hands the stores one string (its hash computed once) instead of a new one per event.
      let id: Identifier;
      if (this.lastValue[i] === v) id = this.lastId[i] as Identifier;
      else {
        id = identifierOf(path, v);
        this.lastValue[i] = v;
        this.lastId[i] = id;
      }
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
