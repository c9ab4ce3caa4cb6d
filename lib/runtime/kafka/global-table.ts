/**
 * A global table (Kafka Streams' GlobalKTable): every instance keeps a full, read-only copy of
 * some stores in its own LMDB environment (`<state-dir>/<app>/global-<name>`; not `global.<name>`: lmdb-js takes a path with an extension for a file), fed from their
 * single-partition changelogs. joinIdentity `mode: global-table` reads its identifier → person
 * table this way in every task, while one resolver task writes it.
 *
 * - Open: each store is restored up to its changelog's end offset at that moment (missing,
 *   corrupt or behind: as a task's stores, {@link needsRestore}), so the tasks start from a table
 *   as current as the broker has it; then a follower per store applies what arrives.
 * - Followed records are applied at once (reads see them before the flush); the environment is
 *   flushed with its changelog checkpoints at most every `flushMs`, so a restart re-reads little.
 * - Nothing here writes to a changelog: the table is a copy of another task's state.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ChangeloggingStoreFactory } from '../../state/changelog.js';
import { changelogTopic, decodeChangelogKey, decodeChangelogValue } from '../../state/changelog-codec.js';
import { needsRestore, restoreFromChangelog } from '../../state/changelog-restore.js';
import { LmdbStoreFactory } from '../../state/engines/lmdb/env.js';
import type { KeyValueStore, StoreKey } from '../../state/store.js';
import type { KafkaAdapter, KafkaAdmin } from './client.js';

export interface GlobalTableOptions {
  adapter: KafkaAdapter;
  admin: KafkaAdmin;
  app: string;
  /** The table's name (its directory: `global-<name>`). */
  name: string;
  /** Full store names (`<step>.<store>`); each has a one-partition changelog `<app>-<store>-changelog`. */
  stores: string[];
  stateDir: string;
  log: (line: string) => void;
  /** Most time between flushes of followed records; default 1000 ms. */
  flushMs?: number;
  /** Called when a follower fails (the runner stops: its tasks would read a table that no longer moves). */
  onError: (error: Error) => void;
}

export class GlobalTable {
  private factory!: ChangeloggingStoreFactory;
  private readonly abort = new AbortController();
  private readonly followers: Array<Promise<void>> = [];
  private dirty = false;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Records applied by the followers (after the restore at open). */
  followed = 0;

  constructor(private readonly options: GlobalTableOptions) {}

  /** A store of the table, for reading. */
  store<K extends StoreKey, V>(name: string): KeyValueStore<K, V> {
    return this.factory.open<K, V>(name);
  }

  async open(): Promise<void> {
    const { admin, app, stores, log, name } = this.options;
    const dir = resolve(join(this.options.stateDir, app, `global-${name}`));
    let lmdb: LmdbStoreFactory;
    try {
      lmdb = new LmdbStoreFactory({ path: dir, maxDbs: stores.length * 4 + 8 }); // probes the file first: a damaged one throws
    } catch (error) {
      log(`warning: global table ${name}: local copy at ${dir} unusable (${error instanceof Error ? error.message : String(error)}); rebuilding it`);
      rmSync(dir, { recursive: true, force: true });
      lmdb = new LmdbStoreFactory({ path: dir, maxDbs: stores.length * 4 + 8 });
    }
    this.factory = new ChangeloggingStoreFactory(lmdb);
    for (const store of stores) {
      const topic = changelogTopic(app, store);
      const end = (await admin.endOffsets(topic)).find((w) => w.partition === 0);
      if (!end) throw new Error(`global table ${name}: changelog ${topic} has no partition 0`);
      const decision = needsRestore(this.factory, store, 0, end.high);
      if (decision.restore) {
        const result = await restoreFromChangelog({
          records: this.options.adapter.readPartition(topic, 0, { from: decision.from, upTo: decision.upTo, readCommitted: true }),
          factory: this.factory, store, partition: 0, upTo: decision.upTo, wipe: decision.wipe,
        });
        log(`global table ${name}: restored ${store} (${decision.reason}): ${result.applied} records in ${Math.round(result.elapsedMs)} ms`);
      }
    }
    for (const store of stores) this.followers.push(this.follow(store));
    this.timer = setInterval(() => void this.flush(), this.options.flushMs ?? 1000);
    this.timer.unref();
  }

  private async follow(name: string): Promise<void> {
    const topic = changelogTopic(this.options.app, name);
    const cp = this.factory.changelogCheckpoint(name, 0);
    const from = typeof cp === 'string' ? (BigInt(cp) + 1n).toString() : 'earliest';
    const store = this.factory.openStore(name);
    try {
      for await (const record of this.options.adapter.readPartition(topic, 0, { from, upTo: '0', readCommitted: true, follow: this.abort.signal })) {
        if (record.key === null) continue;
        store.applyRestored(decodeChangelogKey(record.key), record.value === null ? undefined : decodeChangelogValue(record.value));
        this.factory.recordChangelogOffsets(name, 0, record.offset);
        this.dirty = true;
        this.followed++;
      }
    } catch (error) {
      if (!this.abort.signal.aborted) this.options.onError(new Error(`global table ${this.options.name}: following ${topic} failed: ${String(error)}`, { cause: error }));
    }
  }

  private flush(): Promise<void> {
    if (!this.dirty || this.flushing) return this.flushing ?? Promise.resolve();
    this.dirty = false;
    this.flushing = this.factory.flush().catch((error: unknown) => this.options.onError(new Error(`global table ${this.options.name}: flush failed: ${String(error)}`))).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.abort.abort();
    await Promise.all(this.followers);
    await this.flushing;
    this.dirty = true;
    await this.flush();
    await this.factory?.close();
  }
}
