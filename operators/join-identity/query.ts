/**
 * The query API of `joinIdentity` ({@link joinIdentityQuery}): the person behind an identifier or
 * a person id, read from the step's stores, for `GET /state/<step>/<key>`.
 */
import type { KeyValueStore } from '../../lib/state/store.js';
import { identifierOf, type Identifier } from './identifiers.js';
import type { IdentifierEntry, PersonRecord } from './state.js';

/** What `GET /state/<joinIdentity step>/<key>` returns: a person of the identity graph. */
export interface PersonState {
  /** The person's id (the survivor's, when the key named an absorbed person). */
  personId: string;
  /** Its typed identifiers (`userId:u1`, `anonymousId:a1`, …), in the order they joined it. */
  identifiers: Identifier[];
  /** Least event time (epoch ms) any of its identifiers was seen at: the survivor rule's clock. */
  firstSeen: number;
  /** Every person id merged into this one (directly or through earlier merges), in merge order. */
  absorbed: string[];
}

/** The stores the query reads (the resolver's: in Kafka `global-table` mode only its task has `persons`). */
export interface IdentityQueryStores {
  ids: KeyValueStore<string, IdentifierEntry>;
  absorbed: KeyValueStore<string, string>;
  persons: KeyValueStore<string, PersonRecord>;
}

/**
 * The person of `key`, or `undefined` when the graph does not know it. The key is either a typed
 * identifier, `<field path>:<value>` as the step types them (`userId:u1`, `anonymousId:a1`,
 * `traits.emailHash:9f…`; a value over 200 characters is looked up by its hashed form, as the
 * step stores it), or a person id `p-…` as events carry it in `personId`: an absorbed person
 * resolves to the person that absorbed it.
 *
 * @example
 * ```ts
 * // GET /state/joinIdentity/userId%3Au1 (or /state/joinIdentity/p-9c…, the person's id or one it absorbed):
 * joinIdentityQuery({ ids, absorbed, persons }, 'userId:u1');
 * // { personId: 'p-9c…', identifiers: ['anonymousId:a1', 'userId:u1'], firstSeen: 1000, absorbed: [] }
 * ```
 */
export function joinIdentityQuery(stores: IdentityQueryStores, key: string): PersonState | undefined {
  const colon = key.indexOf(':');
  const entry = stores.ids.get(key) ?? (colon > 0 ? stores.ids.get(identifierOf(key.slice(0, colon), key.slice(colon + 1))) : undefined);
  let personId = entry?.personId ?? key;
  // Absorbed ids are re-pointed at every merge (one hop); a bounded walk all the same.
  for (let hops = 0; hops < 64; hops++) {
    const next = stores.absorbed.get(personId);
    if (next === undefined || next === personId) break;
    personId = next;
  }
  const person = stores.persons.get(personId);
  if (!person) return undefined;
  return { personId: person.personId, identifiers: [...person.identifiers], firstSeen: person.firstSeen, absorbed: [...person.absorbed] };
}
