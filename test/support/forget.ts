/**
 * Reading every entry of a pipeline's state and finding those that hold a person: the key or the
 * decoded value, written as JSON (Maps, Sets and buffers included), contains one of the terms as
 * a whole string (`"u1"`) or as the value part of a typed identifier (`"userId:u1"`).
 */
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { KeyValueStore, StoreKey } from '../../lib/state/store.js';

export interface StateEntry {
  store: string;
  key: unknown;
  value: unknown;
}

/** Every entry of the named stores. */
export function storeEntries(open: (name: string) => KeyValueStore<StoreKey, unknown>, names: readonly string[]): StateEntry[] {
  return names.flatMap((store) => [...open(store).range()].map(({ key, value }) => ({ store, key, value })));
}

/** Every entry of every store of the LMDB environment at `path` (the runtime's own `_` stores included). */
export async function lmdbEntries(path: string): Promise<StateEntry[]> {
  const env = new LmdbStoreFactory({ path });
  try {
    return storeEntries((n) => env.open(n), env.storeNames());
  } finally {
    await env.close();
  }
}

const json = (value: unknown) =>
  JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Map) return [...v];
    if (v instanceof Set) return [...v];
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  }) ?? '';

/** The entries that hold one of `terms`, with the terms found. */
export function heldBy(entries: readonly StateEntry[], terms: readonly string[]): Array<{ store: string; key: unknown; terms: string[] }> {
  const out: Array<{ store: string; key: unknown; terms: string[] }> = [];
  for (const e of entries) {
    const text = json(e.key) + json(e.value);
    const found = terms.filter((t) => text.includes(`"${t}"`) || text.includes(`:${t}"`));
    if (found.length > 0) out.push({ store: e.store, key: e.key, terms: found });
  }
  return out;
}
