/**
 * Forgetting a person in `joinIdentity`: the subject of an erasure request is resolved through
 * the identity graph (the persons of its identifiers and person ids, absorbed ids followed to
 * their survivor, then every identifier and absorbed id of those persons, to a fixed point), and
 * every entry of the five stores that mentions any of them goes: the person, its `ids` entries,
 * link counts, refused pairs with it on either side, and `absorbed` entries to or from it. The
 * widened subject is what the later steps forget (a session keyed by an anonymousId the request
 * did not name is found that way).
 */
import type { KeyValueStore, StoreKey } from '../../lib/state/store.js';
import { scrubStores, subjectTerms, type ForgetOutcome, type ForgetSubject, type SubjectIdentifier } from '../../lib/operator/forget.js';
import { identifierOf, type Identifier } from './identifiers.js';
import type { IdentifierEntry, PersonRecord } from './state.js';

const STORES = ['ids', 'absorbed', 'persons', 'links', 'refused'];

/** `userId:u1` → `{ field: 'userId', value: 'u1' }`; a hashed identifier (`field#…`) has no value to give. */
function parseIdentifier(id: Identifier): SubjectIdentifier | undefined {
  const colon = id.indexOf(':');
  const hash = id.indexOf('#');
  if (colon < 0 || (hash >= 0 && hash < colon)) return undefined;
  return { field: id.slice(0, colon), value: id.slice(colon + 1) };
}

/**
 * The person(s) of `subject` with every identifier and person id they hold, and the typed
 * identifiers found (hashed ones included, which only this step's stores hold).
 */
export function widenSubject(store: <K extends StoreKey, V>(name: string) => KeyValueStore<K, V>, subject: ForgetSubject): { subject: ForgetSubject; typed: Set<string> } {
  const ids = store<string, IdentifierEntry>('ids');
  const absorbed = store<string, string>('absorbed');
  const persons = store<string, PersonRecord>('persons');
  const typed = new Set<string>(subject.identifiers.map((i) => identifierOf(i.field, i.value)));
  const personIds = new Set<string>(subject.personIds);
  const visited = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of typed) {
      const e = ids.get(t);
      if (!e || personIds.has(e.personId)) continue;
      personIds.add(e.personId);
      changed = true;
    }
    for (const p of [...personIds]) {
      if (visited.has(p)) continue;
      visited.add(p);
      changed = true;
      const survivor = absorbed.get(p);
      if (survivor !== undefined) personIds.add(survivor);
      const person = persons.get(p);
      if (!person) continue;
      for (const id of person.identifiers) typed.add(id);
      for (const a of person.absorbed) personIds.add(a);
    }
  }
  const identifiers = [...subject.identifiers];
  const known = new Set(identifiers.map((i) => `${i.field}:${i.value}`));
  for (const t of typed) {
    const parsed = parseIdentifier(t);
    if (!parsed || known.has(t)) continue;
    identifiers.push(parsed);
    known.add(t);
  }
  return { subject: { identifiers, personIds: [...personIds].sort() }, typed };
}

/** The `forget` of the joinIdentity definition: widen the subject, then remove every entry that mentions it. */
export function forgetInIdentity(store: <K extends StoreKey, V>(name: string) => KeyValueStore<K, V>, subject: ForgetSubject): ForgetOutcome {
  const widened = widenSubject(store, subject);
  const terms = subjectTerms(widened.subject);
  for (const t of widened.typed) terms.add(t);
  return { subject: widened.subject, removed: scrubStores(STORES, (n) => store(n), terms) };
}
