/**
 * Durability of LmdbStoreFactory across a process crash: a child process
 * (`test/support/lmdb-writer.ts`) writes and flushes, then is killed with SIGKILL without
 * closing; this process reopens the environment and reads exactly the flushed state and the
 * checkpoint metadata committed with it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import type { Entry } from '../../lib/state/store.js';

const WRITER = fileURLToPath(new URL('../support/lmdb-writer.js', import.meta.url));

const entriesOf = <K, V>(it: Iterable<Entry<K, V>>): [K, V][] => [...it].map((e) => [e.key, e.value]);

/** Runs the writer and SIGKILLs it as soon as it prints `trigger`. */
function runWriter(dir: string, mode: string, size: number, trigger: string): Promise<{ out: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, mode, String(size)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer did not print "${trigger}" in time; stdout: ${out} stderr: ${err}`));
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.split('\n').includes(trigger)) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with code ${code}, signal ${signal}; stderr: ${err}`));
      else resolve({ out, signal });
    });
  });
}

/** The state after the writer's second flush. */
const FLUSHED_EVENTS: [string, { n: number }][] = [
  ['e2', { n: 2 }],
  ['e3', { n: 33 }],
  ['e4', { n: 4 }],
];
const FLUSHED_WINDOWS: [[string, number], { count: number }][] = [
  [['p1', 0], { count: 1 }],
  [['p1', 60_000], { count: 2 }],
  [['p2', 0], { count: 4 }],
];

describe('LmdbStore survives a process crash (SIGKILL)', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-lmdb-restart-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('flushed state and metadata are read back; writes after the last flush are absent', async () => {
    const dir = tempDir();
    const { signal } = await runWriter(dir, 'after-flush', 1000, 'ready');
    assert.equal(signal, 'SIGKILL');

    const stores = new LmdbStoreFactory({ path: dir });
    try {
      const events = stores.openStore<string, { n: number }>('events');
      const windows = stores.openStore<[string, number], { count: number }>('windows');
      assert.deepEqual(entriesOf(events.range()), FLUSHED_EVENTS);
      assert.deepEqual(entriesOf(windows.range()), FLUSHED_WINDOWS);
      assert.deepEqual(stores.getMeta('checkpoint'), { position: 200, outputs: { events: 2345 } });
      assert.equal(events.count(), 3);
      assert.equal(windows.count(), 3);
      assert.deepEqual(entriesOf(windows.range({ prefix: ['p3'] })), []);
      // The expiry index was committed with the data: e2 at 1000, e4 at 2000, and the rewrite of
      // ['p2', 0] without expiresAt removed its expiry.
      assert.equal(events.expire(999), 0);
      assert.equal(events.expire(1000), 1);
      assert.equal(events.expire(2000), 1);
      assert.equal(windows.expire(Number.MAX_SAFE_INTEGER), 0);
      await stores.flush();
      assert.deepEqual(entriesOf(events.range()), [['e3', { n: 33 }]]);
    } finally {
      await stores.close();
    }
    // And the environment is still good after a clean reopen.
    const again = new LmdbStoreFactory({ path: dir });
    try {
      assert.deepEqual(entriesOf(again.openStore<string, { n: number }>('events').range()), [['e3', { n: 33 }]]);
    } finally {
      await again.close();
    }
  });

  test('a kill during a flush leaves all of that flush or none of it', async (t) => {
    const dir = tempDir();
    const size = 200_000;
    const { out } = await runWriter(dir, 'mid-flush', size, 'flushing');

    const stores = new LmdbStoreFactory({ path: dir });
    try {
      const events = stores.openStore<string, { n: number }>('events');
      const windows = stores.openStore<[string, number], { count: number }>('windows');
      const meta = stores.getMeta<{ position: number }>('checkpoint');
      const committed = meta?.position === 300;
      t.diagnostic(`third flush ${committed ? 'committed' : 'not committed'} when killed (child printed: ${JSON.stringify(out)})`);
      if (!committed) {
        assert.deepEqual(meta, { position: 200, outputs: { events: 2345 } });
        assert.deepEqual(entriesOf(events.range()), FLUSHED_EVENTS);
        assert.deepEqual(entriesOf(windows.range()), FLUSHED_WINDOWS);
        assert.equal(windows.count(), 3);
        assert.equal(windows.expire(Number.MAX_SAFE_INTEGER), 0);
      } else {
        assert.deepEqual(meta, { position: 300, outputs: { events: 3456 } });
        assert.deepEqual(entriesOf(events.range()), [
          ['e3', { n: 333 }],
          ['e4', { n: 4 }],
        ]);
        assert.equal(windows.count(), 3 + size);
        assert.deepEqual(windows.get(['p3', size - 1]), { count: size - 1 });
        assert.equal(windows.expire(size - 1), size);
      }
    } finally {
      await stores.close();
    }
  });
});
