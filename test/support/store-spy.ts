/**
 * Store factories for tests that watch what operators write: {@link spyStores} calls a function
 * on every put before passing it on; {@link freezingStores} freezes every value put, so logic
 * that changes a stored value afterwards throws (logic that never changes one); {@link
 * putBackStores} finds a value changed and not put back in the same call (the `immutableState`
 * promise: a value may be changed in place only to be put back).
 */
import { isDeepStrictEqual } from 'node:util';
import { MemoryStoreFactory } from '../../lib/state/engines/memory.js';
import type { KeyValueStore, PutOptions, StoreFactory, StoreKey } from '../../lib/state/store.js';

/** The stores of `inner`, with `onPut(store, key, value)` called before each put (it may return a replacement value). */
export function spyStores(inner: StoreFactory, onPut: (store: string, key: StoreKey, value: unknown) => unknown): StoreFactory {
  return {
    open<K extends StoreKey, V>(name: string): KeyValueStore<K, V> {
      const store = inner.open<K, V>(name);
      return new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'put') return (k: K, v: V, o?: PutOptions) => target.put(k, (onPut(name, k, v) ?? v) as V, o);
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
    flush: () => inner.flush(),
    close: () => inner.close(),
  };
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Memory stores without cloning whose values are frozen on put: any later change of one throws. */
export function freezingStores(): StoreFactory {
  return spyStores(new MemoryStoreFactory({ clone: false }), (_store, _key, value) => deepFreeze(value));
}

/**
 * Memory stores without cloning that remember a copy of every value put. `check()`, called after
 * each `process`/`advance` call, throws when a value still in its store differs from its copy:
 * the logic changed it and did not put it back in that call.
 */
export function putBackStores(): { stores: StoreFactory; check(): void } {
  const inner = new MemoryStoreFactory({ clone: false });
  const copies = new Map<string, Map<string, { key: StoreKey; value: unknown; copy: unknown }>>();
  const stores = spyStores(inner, (store, key, value) => {
    let byKey = copies.get(store);
    if (!byKey) copies.set(store, (byKey = new Map()));
    byKey.set(JSON.stringify(key), { key, value, copy: structuredClone(value) });
    return undefined;
  });
  const check = () => {
    for (const [store, byKey] of copies) {
      for (const { key, value, copy } of byKey.values()) {
        if (inner.open(store).get(key) !== value) continue; // replaced or deleted since
        if (!isDeepStrictEqual(value, copy)) throw new Error(`${store} ${JSON.stringify(key)}: changed after its put and not put back in the same call`);
      }
    }
  };
  return { stores, check };
}
