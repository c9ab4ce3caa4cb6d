// The check of an LMDB data file before lmdb-js maps it, over the bytes of real LMDB files (made
// by LmdbStoreFactory, then damaged in memory: nothing damaged is opened in this process). What
// a damaged file does to a run, in a child process, is in test/cli/run-corrupt-state.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { StateCorruptedError, stateCorruption } from '../../lib/state/engines/lmdb/corruption.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { lmdbBytesProblem, lmdbFileProblem, PROBE_BYTES, type PageReader } from '../../lib/state/engines/lmdb/probe.js';
import { tempDir } from '../support/tmp.js';

let file: Buffer;
let pageSize: number;

/** The probe over `bytes` as if they were the whole file. */
const probe = (bytes: Buffer) => {
  const pageAt: PageReader = (n, size) => (Number(n) * size >= bytes.length ? undefined : bytes.subarray(Number(n) * size, Number(n + 1n) * size));
  return lmdbBytesProblem(bytes.subarray(0, PROBE_BYTES), bytes.length, pageAt);
};
const meta = (bytes: Buffer, page: number) => ({
  txnid: bytes.readBigUInt64LE(page * pageSize + 24 + 128),
  lastPage: Number(bytes.readBigUInt64LE(page * pageSize + 24 + 120)),
  mainRoot: Number(bytes.readBigUInt64LE(page * pageSize + 24 + 72 + 40)),
});
/** The meta LMDB opens with: the higher txnid of pages 0 and 1. */
const latest = (bytes: Buffer) => (meta(bytes, 0).txnid >= meta(bytes, 1).txnid ? meta(bytes, 0) : meta(bytes, 1));
const damaged = (edit: (b: Buffer) => void) => {
  const copy = Buffer.from(file);
  edit(copy);
  return copy;
};

before(async () => {
  const dir = join(tempDir('tributary-probe-'), 'state');
  const stores = new LmdbStoreFactory({ path: dir });
  for (const name of ['a', 'b', 'c']) {
    const s = stores.open<string, { v: string }>(name);
    for (let i = 0; i < 3000; i++) s.put(`${name}${i}`, { v: 'x'.repeat(50) }, { expiresAt: i });
    await stores.flush();
  }
  await stores.close();
  file = readFileSync(join(dir, 'data.mdb'));
  pageSize = file.readUInt32LE(24 + 24);
});

test('a sound data file, and an empty one (LMDB initializes it): no problem', () => {
  assert.equal(pageSize, 4096);
  assert.ok(file.length > 50 * pageSize, `${file.length} bytes`);
  assert.equal(probe(file), undefined);
  assert.equal(probe(Buffer.alloc(0)), undefined);
});

test('truncated: past the last page its latest commit uses, inside the meta pages, inside a meta page', () => {
  const { lastPage } = latest(file);
  assert.equal((lastPage + 1) * pageSize, file.length, 'LMDB wrote every page up to its last');
  assert.equal(probe(file.subarray(0, file.length - 1)), `truncated: ${file.length - 1} bytes, its last commit uses ${file.length} (page ${lastPage})`);
  assert.equal(probe(file.subarray(0, 3 * pageSize)), `truncated: ${3 * pageSize} bytes, its last commit uses ${file.length} (page ${lastPage})`);
  assert.equal(probe(file.subarray(0, 5000)), 'truncated: 5000 bytes, shorter than its two meta pages (8192)');
  assert.equal(probe(file.subarray(0, 100)), 'truncated: 100 bytes, shorter than a meta page');
});

test('meta pages overwritten: garbage, zeros, another data version', () => {
  const garbage = (from: number, to: number) => (b: Buffer) => {
    for (let i = from; i < to; i++) b[i] = (i * 131 + 7) & 0xff;
  };
  assert.equal(probe(damaged(garbage(0, 2 * pageSize))), 'meta page 0 is not an LMDB meta page');
  assert.equal(probe(damaged((b) => b.fill(0, 0, pageSize))), 'meta page 0 is not an LMDB meta page');
  assert.equal(probe(damaged(garbage(pageSize, 2 * pageSize))), 'meta page 1 is not an LMDB meta page');
  assert.equal(probe(damaged((b) => b.writeUInt32LE(5, 24 + 4))), 'meta page 0 is LMDB data version 5, expected 2');
  assert.equal(probe(damaged((b) => b.writeUInt32LE(1000, 24 + 24))), 'meta page 0 records a page size of 1000');
  // The latest meta naming pages past the end of the file.
  const { lastPage } = latest(file);
  const which = meta(file, 0).txnid >= meta(file, 1).txnid ? 0 : 1;
  assert.equal(
    probe(damaged((b) => b.writeBigUInt64LE(BigInt(lastPage + 10), which * pageSize + 24 + 120))),
    `truncated: ${file.length} bytes, its last commit uses ${(lastPage + 11) * pageSize} (page ${lastPage + 10})`,
  );
});

test('a root page overwritten: the main database\'s, a named database\'s', () => {
  const { mainRoot } = latest(file);
  assert.equal(probe(damaged((b) => b.fill(0xab, mainRoot * pageSize, (mainRoot + 1) * pageSize))), `page ${mainRoot}, the root of the main database, holds other bytes`);
  // The first named database the main database lists (its MDB_db record follows the node's key).
  const page = file.subarray(mainRoot * pageSize);
  const node = 24 + page.readUInt16LE(24);
  const root = Number(page.readBigUInt64LE(node + 8 + page.readUInt16LE(node + 6) + 40));
  assert.equal(probe(damaged((b) => b.fill(0, root * pageSize, (root + 1) * pageSize))), `page ${root}, the root of a named database, holds other bytes`);
});

test('LMDB errors about a damaged file become one "state corrupted" line; other errors are left alone', () => {
  const e = stateCorruption(new Error('MDB_PAGE_NOTFOUND: Requested page not found'), '/s/data.mdb');
  assert.ok(e instanceof StateCorruptedError);
  assert.equal(e.message, 'state corrupted: /s/data.mdb (MDB_PAGE_NOTFOUND: Requested page not found); delete /s to start over, or restore it');
  assert.equal(stateCorruption(new Error('MDB_CORRUPTED: Located page was wrong type\n    at x'), '/s/data.mdb')?.why, 'MDB_CORRUPTED: Located page was wrong type');
  assert.equal(stateCorruption(new Error('MDB_MAP_FULL: Environment mapsize limit reached'), '/s/data.mdb'), undefined);
  assert.equal(stateCorruption(new Error('ENOSPC: no space left on device'), '/s/data.mdb'), undefined);
});

test('a data.mdb that is not a regular file (a link to /dev/zero, a FIFO, a directory) is refused before LMDB opens it', () => {
  // LMDB would map /dev/zero and crash the process (SIGSEGV), and wait on a FIFO for ever.
  const cases: Array<[string, (file: string) => void, string]> = [
    ['zero', (f) => symlinkSync('/dev/zero', f), 'a character device, not an LMDB data file'],
    ['fifo', (f) => assert.equal(spawnSync('mkfifo', [f]).status, 0), 'a FIFO, not an LMDB data file'],
    ['dir', (f) => mkdirSync(f), 'a directory, not an LMDB data file'],
  ];
  for (const [name, make, why] of cases) {
    const dir = join(tempDir('tributary-probe-'), name);
    mkdirSync(dir);
    make(join(dir, 'data.mdb'));
    assert.equal(lmdbFileProblem(join(dir, 'data.mdb')), why, name);
    assert.throws(() => new LmdbStoreFactory({ path: dir }), (e: unknown) => e instanceof StateCorruptedError && e.message.includes(why), name);
  }
});
