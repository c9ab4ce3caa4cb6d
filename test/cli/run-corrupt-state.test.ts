// A damaged state directory, as a user meets it: `tributary run` with a --state-dir whose LMDB
// data file was truncated or had its meta pages (or a root page) overwritten. LMDB would map it
// and the process die of SIGBUS/SIGSEGV with no message; the run refuses instead: exit 1 (no
// signal), one line naming the file, what is wrong and what to do. --restart starts over.
import assert from 'node:assert/strict';
import { cpSync, openSync, closeSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { before, test } from 'node:test';
import { BIN, ROOT, tributary } from '../support/cli.js';
import { lmdbFileProblem } from '../../lib/state/engines/lmdb/probe.js';
import { tempDir } from '../support/tmp.js';

const PIPELINE = 'examples/cart-abandonment/pipeline.yaml';
const dir = tempDir('tributary-corrupt-state-');
const input = join(dir, 'events.ndjson');
const sound = join(dir, 'sound-state');

/** `tributary run` over the input with `state`, as a child process: its exit code, signal and output. */
function run(state: string, ...more: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'run', PIPELINE, '--input', input, '--out-dir', join(dir, 'out'), '--state-dir', state, '--quiet', ...more], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the sound state directory, damaged by `edit` (given its data file). */
function damaged(name: string, edit: (dataFile: string) => void): { state: string; data: string } {
  const state = join(dir, name);
  cpSync(sound, state, { recursive: true });
  const data = join(state, 'data.mdb');
  edit(data);
  return { state, data };
}

function overwrite(file: string, at: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}

before(() => {
  const g = tributary(['generate', '--events', '20000', '--seed', '4', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  const first = run(sound);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(statSync(join(sound, 'data.mdb')).size >= 40 * 4096, 'a state of some pages');
});

const refused = (data: string, state: string, why: string) => `error: state corrupted: ${data} (${why}); delete ${state} to start over, or restore it\n`;

test('a truncated data.mdb: exit 1 with the file and the fix, not SIGBUS', () => {
  const { state, data } = damaged('truncated', (f) => truncateSync(f, 5 * 4096));
  const size = statSync(join(sound, 'data.mdb')).size;
  const r = run(state);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, refused(data, state, `truncated: ${5 * 4096} bytes, its last commit uses ${size} (page ${size / 4096 - 1})`));
});

test('meta pages overwritten with other bytes: exit 1 with the file and the fix, not SIGSEGV', () => {
  const junk = Buffer.alloc(2 * 4096, 'not an LMDB page ');
  const both = damaged('meta-both', (f) => overwrite(f, 0, junk));
  const r = run(both.state);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, refused(both.data, both.state, 'meta page 0 is not an LMDB meta page'));

  const second = damaged('meta-1', (f) => overwrite(f, 4096, junk.subarray(0, 4096)));
  const r1 = run(second.state);
  assert.equal(r1.signal, null);
  assert.equal(r1.code, 1);
  assert.equal(r1.stderr, refused(second.data, second.state, 'meta page 1 is not an LMDB meta page'));
});

test('the main database\'s root page overwritten: exit 1 naming the page', () => {
  const bytes = readFileSync(join(sound, 'data.mdb'));
  const newest = bytes.readBigUInt64LE(24 + 128) >= bytes.readBigUInt64LE(4096 + 24 + 128) ? 0 : 4096;
  const root = Number(bytes.readBigUInt64LE(newest + 24 + 72 + 40));
  const { state, data } = damaged('root', (f) => overwrite(f, root * 4096, Buffer.alloc(4096, 0x5a)));
  const r = run(state);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, refused(data, state, `page ${root}, the root of the main database, holds other bytes`));
});

/**
 * A leaf page below the root of the first named database two or more levels deep, in the newest
 * snapshot of an LMDB data file: past what the probe reads.
 */
function deepLeaf(bytes: Buffer): number {
  const page = (n: number) => bytes.subarray(n * 4096, (n + 1) * 4096);
  const newest = bytes.readBigUInt64LE(24 + 128) >= bytes.readBigUInt64LE(4096 + 24 + 128) ? 0 : 4096;
  const main = page(Number(bytes.readBigUInt64LE(newest + 24 + 72 + 40)));
  for (let i = 0; i < main.readUInt16LE(20) >> 1; i++) {
    const node = 24 + main.readUInt16LE(24 + 2 * i);
    const db = node + 8 + main.readUInt16LE(node + 6); // the named database's record follows its name
    if (main.readUInt16LE(db + 6) !== 2) continue; // depth: a branch root over leaves
    const root = page(Number(main.readBigUInt64LE(db + 40)));
    const first = 24 + root.readUInt16LE(24);
    return root.readUInt16LE(first) + root.readUInt16LE(first + 2) * 2 ** 16 + root.readUInt16LE(first + 4) * 2 ** 32;
  }
  throw new Error('no named database two levels deep');
}

test('damage below the root pages, which LMDB reports (MDB_CORRUPTED): the same one line, exit 1', () => {
  const leaf = deepLeaf(readFileSync(join(sound, 'data.mdb')));
  // The leaf's page type set to "overflow": LMDB finds it where a leaf must be.
  const { state, data } = damaged('deep', (f) => overwrite(f, leaf * 4096 + 18, Buffer.from([0x04, 0x00])));
  const r = run(state);
  assert.equal(r.signal, null);
  assert.equal(r.code, 1);
  // LMDB also prints its own diagnostic line to stderr before the error comes back.
  assert.equal(r.stderr.split('\n').filter(Boolean).at(-1), refused(data, state, 'MDB_CORRUPTED: Located page was wrong type').trimEnd());
});

test('--restart over a damaged state directory starts over: exit 0, the outputs of a fresh run', () => {
  const { state } = damaged('restarted', (f) => truncateSync(f, 3 * 4096));
  const r = run(state, '--restart');
  assert.equal(r.signal, null);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^done: pipeline cart-abandonment, 20000 records from /);
  assert.doesNotMatch(r.stdout, /resumed|continued/);
});

// A sound file can end before the last page its latest commit counts: LMDB does not write the
// pages a commit allocated and freed again, and lists them in the free list. The check read that
// as a truncation, so running the same command again on the state a run had left failed with
// "state corrupted" (12,000 generated events, seed 3, in the cart pipeline; found by an audit).
test('a sound state whose last pages were never written (all free) opens again: the same command twice, exit 0 both times', () => {
  const events = join(dir, 'free-tail.ndjson');
  const g = tributary(['generate', '--events', '12000', '--seed', '3', '--out', events]);
  assert.equal(g.code, 0, g.stderr);
  const out = join(dir, 'free-tail');
  const again = () => spawnSync(process.execPath, [BIN, 'run', PIPELINE, '--input', events, '--out-dir', out, '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  const first = again();
  assert.equal(first.status, 0, first.stderr);
  // The case itself: the latest meta's last page lies past the end of the file.
  const data = readFileSync(join(out, '.state', 'data.mdb'));
  const metas = [24, 4096 + 24].map((at) => ({ last: data.readBigUInt64LE(at + 120), txnid: data.readBigUInt64LE(at + 128) }));
  const latest = metas[0]!.txnid > metas[1]!.txnid ? metas[0]! : metas[1]!;
  assert.ok(latest.last >= BigInt(data.length / 4096), `last page ${latest.last} within the file's ${data.length / 4096} pages: the case is gone`);
  assert.equal(lmdbFileProblem(join(out, '.state', 'data.mdb')), undefined);
  const events1 = readFileSync(join(out, 'events.ndjson'), 'utf8');
  const second = again();
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stderr, '');
  assert.equal(readFileSync(join(out, 'events.ndjson'), 'utf8'), events1);
});
