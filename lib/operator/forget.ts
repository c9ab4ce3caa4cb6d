/**
 * Forgetting a person (an erasure request): who is to be forgotten ({@link ForgetSubject}) and
 * the default way a step forgets them ({@link scrubStore}): every entry of its stores whose key,
 * or any string anywhere in whose value, is one of the subject's identifier values or person ids
 * is deleted. That covers per-key state (a session list under the person's key) and values that
 * embed an identifier (a pending trigger event of another key that carries the person's
 * `userId`): such an entry goes whole, its other contents with it. An operator whose entries
 * pool many keys (dedupe segments) rewrites them instead (its definition's `forget`).
 *
 * Pure over the store interface, so the same code erases from a running task's stores (through
 * the caching layer: deletes become changelog tombstones in Kafka) and from a stopped
 * pipeline's LMDB state (`tributary forget`). The runtime re-creates a step's logic afterwards,
 * which rebuilds its in-memory timers and indexes from the state that is left, as a restart does.
 */
import type { KeyValueStore, StoreKey } from '../state/store.js';

/** An identifier of the subject: the field it is found in (`userId`, `anonymousId`, `traits.email`) and its value. */
export interface SubjectIdentifier {
  field: string;
  value: string;
}

/** Who a forget request is about: as the request names them, then widened by the steps that know more (joinIdentity). */
export interface ForgetSubject {
  identifiers: SubjectIdentifier[];
  personIds: string[];
}

/** What one step's forgetting did: the subject as later steps see it, and entries removed or rewritten per store (short names). */
export interface ForgetOutcome {
  subject: ForgetSubject;
  removed: Record<string, number>;
}

/**
 * The strings that mark an entry as the subject's: every identifier value, its typed form
 * (`userId:u1`, as joinIdentity stores identifiers) and every person id.
 *
 * @example
 * ```ts
 * subjectTerms({ identifiers: [{ field: 'userId', value: 'u1' }], personIds: ['p-1'] });
 * // Set { 'u1', 'userId:u1', 'p-1' }
 * ```
 */
export function subjectTerms(subject: ForgetSubject): Set<string> {
  const terms = new Set<string>();
  for (const { field, value } of subject.identifiers) {
    terms.add(value);
    terms.add(`${field}:${value}`);
  }
  for (const p of subject.personIds) terms.add(p);
  return terms;
}

/** Whether `value` (a key, or a decoded store value) holds one of `terms`: a string, an object key, anywhere in it. */
export function mentions(value: unknown, terms: ReadonlySet<string>): boolean {
  if (typeof value === 'string') return terms.has(value);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (mentions(v, terms)) return true;
    return false;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) if (mentions(k, terms) || mentions(v, terms)) return true;
    return false;
  }
  if (value instanceof Set) {
    for (const v of value) if (mentions(v, terms)) return true;
    return false;
  }
  for (const k in value) {
    if (terms.has(k) || mentions((value as Record<string, unknown>)[k], terms)) return true;
  }
  return false;
}

/**
 * Deletes every entry of `store` whose key or value mentions one of `terms`; returns how many.
 *
 * @example
 * ```ts
 * scrubStore(ctx.store('sessions'), subjectTerms(subject)); // 2 (the person's two keys)
 * ```
 */
export function scrubStore(store: KeyValueStore<StoreKey, unknown>, terms: ReadonlySet<string>): number {
  if (terms.size === 0) return 0;
  const doomed: StoreKey[] = [];
  for (const { key, value } of store.range()) if (mentions(key, terms) || mentions(value, terms)) doomed.push(key);
  for (const key of doomed) store.delete(key);
  return doomed.length;
}

/** {@link scrubStore} over each named store of a step: entries removed per store (every name present). */
export function scrubStores(names: readonly string[], open: (name: string) => KeyValueStore<StoreKey, unknown>, terms: ReadonlySet<string>): Record<string, number> {
  const removed: Record<string, number> = {};
  for (const name of names) removed[name] = scrubStore(open(name), terms);
  return removed;
}
