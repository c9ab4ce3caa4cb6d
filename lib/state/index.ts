/**
 * Operator state: the {@link KeyValueStore} interface (`store.ts`), the engines that implement it
 * (`engines/memory.ts`, `engines/lmdb/`), the layers in front of an engine (change logging for
 * Kafka, `changelog.ts`; the caching layer every task uses, `caching.ts`), restore from a
 * changelog, and the key order they all share. A task's stores are assembled as
 * caching(change logging(LMDB)) in Kafka mode and caching(LMDB) embedded.
 *
 * @module
 */
export type { Entry, KeyPart, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from './store.js';
export { compareKeys, describeKey, InvalidKeyError, MAX_KEY_BYTES, validateKey } from './key-order.js';
export { MemoryStore, MemoryStoreFactory, type MemoryStoreOptions } from './engines/memory.js';
export { LmdbStoreFactory, type LmdbStoreFactoryOptions } from './engines/lmdb/env.js';
export { LmdbStore } from './engines/lmdb/store.js';
export { StateCorruptedError } from './engines/lmdb/corruption.js';
export { CachingStoreFactory, DEFAULT_CACHE_BYTES, type CachingStoreFactoryOptions } from './caching.js';
export { CachingStore } from './caching-store.js';
export { ChangeloggingStoreFactory } from './changelog.js';
export { changelogTopic, CHANGELOG_TOPIC_CONFIGS } from './changelog-codec.js';
export { needsRestore, restoreFromChangelog } from './changelog-restore.js';
