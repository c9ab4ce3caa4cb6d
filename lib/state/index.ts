/**
 * Operator state: the {@link KeyValueStore} interface, its memory and LMDB implementations, and
 * the key order they share.
 *
 * @module
 */
export type { Entry, KeyPart, KeyValueStore, PutOptions, RangeOptions, StoreFactory, StoreKey } from './store.js';
export { compareKeys, describeKey, InvalidKeyError, MAX_KEY_BYTES, validateKey } from './key-order.js';
export { MemoryStore, MemoryStoreFactory, type MemoryStoreOptions } from './engines/memory.js';
export { LmdbStoreFactory, type LmdbStoreFactoryOptions } from './engines/lmdb/env.js';
export { LmdbStore } from './engines/lmdb/store.js';
export { CachingStoreFactory, DEFAULT_CACHE_BYTES, type CachingStoreFactoryOptions } from './caching.js';
export { CachingStore } from './caching-store.js';
export { ChangeloggingStoreFactory, changelogTopic, CHANGELOG_TOPIC_CONFIGS } from './changelog.js';
export { needsRestore, restoreFromChangelog } from './changelog-restore.js';
