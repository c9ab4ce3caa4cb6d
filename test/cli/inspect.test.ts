// `tributary inspect` as a user runs it over a finished run's state: stores with their entry
// counts, the embedded checkpoint, one value by key, every entry as NDJSON, a Kafka-style
// <app>/<task> tree; and its errors.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

test('inspect: stores and counts, the checkpoint, a value by key, --dump; a <app>/<task> tree; errors', async () => {
  const dir = tempDir();
  const state = join(dir, 'state');
  const gen = tributary(['generate', '--events', '1500', '--seed', '4', '--out', join(dir, 'events.ndjson')]);
  assert.equal(gen.code, 0);
  const run = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--input', join(dir, 'events.ndjson'), '--out-dir', join(dir, 'out'), '--state-dir', state, '-q']);
  assert.equal(run.code, 0, run.stderr);

  // What the state holds, read directly, against what inspect says.
  const env = new LmdbStoreFactory({ path: state });
  const ids = env.open<string, { personId: string }>('joinIdentity.ids');
  const idCount = ids.count();
  const [first] = [...ids.range()];
  await env.close();
  assert.ok(first && idCount > 10);

  const listing = tributary(['inspect', state]);
  assert.equal(listing.code, 0, listing.stderr);
  const lines = listing.stdout.split('\n');
  assert.match(lines[0] as string, /^\.: \d+ KiB$/);
  assert.ok(lines.includes(`  store joinIdentity.ids: ${idCount} entries, ${lines.find((l) => l.startsWith('  store joinIdentity.ids:'))?.split(', ')[1] ?? ''}`));
  assert.match(listing.stdout, /\n {4}"checkpoint": \{"input":\{"path":".*events\.ndjson",.*"position":1500,/);

  const one = tributary(['inspect', state, '--store', 'joinIdentity.ids', '--key', first.key]);
  assert.deepEqual([one.code, JSON.parse(one.stdout)], [0, first.value]);
  const dump = tributary(['inspect', state, '--store', 'joinIdentity.ids', '--dump']);
  const dumped = dump.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { env: string; store: string; key: string });
  assert.equal(dumped.length, idCount);
  assert.deepEqual(dumped[0], { env: '.', store: 'joinIdentity.ids', key: first.key, value: first.value });

  // A Kafka run's layout: <state-dir>/<app>/<task>/.
  mkdirSync(join(dir, 'kafka', 'cart-abandonment'), { recursive: true });
  cpSync(state, join(dir, 'kafka', 'cart-abandonment', '0_1'), { recursive: true });
  const tree = tributary(['inspect', join(dir, 'kafka')]);
  assert.match(tree.stdout, /^cart-abandonment\/0_1: \d+ KiB\n/);
  const keyed = tributary(['inspect', join(dir, 'kafka'), '--store', 'joinIdentity.ids', '--key', first.key]);
  assert.equal(keyed.stdout, `cart-abandonment/0_1 ${JSON.stringify(first.value)}\n`.replace(/^cart-abandonment\/0_1 /, ''), 'one environment: no prefix');

  assert.deepEqual([tributary(['inspect', join(dir, 'nope')]).stderr], [`error: ${join(dir, 'nope')}: no such directory\n`]);
  const empty = tributary(['inspect', join(dir, 'out', 'x-none')]);
  assert.equal(empty.code, 1);
  assert.equal(tributary(['inspect', state, '--key', 'k']).code, 2);
  const missing = tributary(['inspect', state, '--store', 'joinIdentity.ids', '--key', 'userId:nobody']);
  assert.deepEqual([missing.code, missing.stderr], [1, `error: no entry "userId:nobody" in store joinIdentity.ids under ${state}\n`]);
  // An empty data.mdb is no state, and stays empty (LMDB would write a new environment into it).
  const hollow = join(dir, 'hollow');
  mkdirSync(hollow);
  writeFileSync(join(hollow, 'data.mdb'), '');
  const none = tributary(['inspect', hollow]);
  assert.deepEqual([none.code, none.stderr], [1, `error: ${hollow}: no LMDB state here (a state dir holds data.mdb, or <app>/<task>/data.mdb for Kafka runs)\n`]);
  assert.equal(statSync(join(hollow, 'data.mdb')).size, 0);
  // A data.mdb that is not a file (a link to /dev/zero: LMDB mapped the device and the process died of SIGSEGV).
  const device = join(dir, 'device');
  mkdirSync(device);
  symlinkSync('/dev/zero', join(device, 'data.mdb'));
  const refused = tributary(['inspect', device]);
  assert.deepEqual([refused.code, refused.stderr], [1, `error: state corrupted: ${join(device, 'data.mdb')} (a character device, not an LMDB data file); delete ${device} to start over, or restore it\n`]);
});
