/**
 * Child process for `test/state/lmdb-store.restart.test.ts`: writes two flushed batches of state
 * and checkpoint metadata to the LMDB environment at argv[2], then a third batch, and waits to
 * be killed with SIGKILL (it never closes the environment).
 *
 * Modes (argv[3]):
 * - `after-flush`: the third batch stays buffered; prints `ready` once the second flush resolved.
 * - `mid-flush`: prints `flushing` (synchronously) right before flushing a large third batch, so
 *   the parent's SIGKILL lands during or just after the commit; prints `flushed` if it resolves.
 *
 * Usage: node dist/test/support/lmdb-writer.js <dir> <after-flush|mid-flush> [thirdBatchSize]
 */
import { writeSync } from 'node:fs';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';

const [dir, mode = 'after-flush', size = '1000'] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: lmdb-writer <dir> <after-flush|mid-flush> [thirdBatchSize]');

const stores = new LmdbStoreFactory({ path: dir });
const events = stores.open<string, { n: number }>('events');
const windows = stores.open<[string, number], { count: number }>('windows');

// Batch 1.
events.put('e1', { n: 1 });
events.put('e2', { n: 2 }, { expiresAt: 1000 });
events.put('e3', { n: 3 });
windows.put(['p1', 0], { count: 1 });
windows.put(['p1', 60_000], { count: 2 });
windows.put(['p2', 0], { count: 3 }, { expiresAt: 500 });
stores.putMeta('checkpoint', { position: 100, outputs: { events: 1234 } });
await stores.flush();

// Batch 2.
events.delete('e1');
events.put('e3', { n: 33 });
events.put('e4', { n: 4 }, { expiresAt: 2000 });
windows.put(['p2', 0], { count: 4 }); // rewritten without an expiry
stores.putMeta('checkpoint', { position: 200, outputs: { events: 2345 } });
await stores.flush();

// Batch 3: never flushed (after-flush), or killed around its commit (mid-flush).
events.delete('e2');
events.put('e3', { n: 333 });
const n = Number(size);
for (let i = 0; i < n; i++) windows.put(['p3', i], { count: i }, { expiresAt: i });
stores.putMeta('checkpoint', { position: 300, outputs: { events: 3456 } });

if (mode === 'mid-flush') {
  writeSync(1, 'flushing\n');
  await stores.flush();
  writeSync(1, 'flushed\n');
} else {
  writeSync(1, 'ready\n');
}
setInterval(() => {}, 60_000); // wait for SIGKILL
