// `tributary run … --state-dir d` twice with two files, as a user runs it: the second run goes on
// from the state the first left open (no --final), and with an empty input and --final the open
// sessions and carts close; the outputs of the three runs together are the one run's over both.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { streamMultisets } from '../support/outputs.js';

const PIPELINE = 'examples/cart-abandonment/pipeline.yaml';

const streams = streamMultisets;

/** The `dropped duplicate N` of the dedupe step in a run summary. */
const droppedDuplicates = (stdout: string) => Number(/step dedupe: .*dropped duplicate (\d+)/.exec(stdout)?.[1] ?? 0);

test('tributary run with one --state-dir over day 1 then day 2, then --final over an empty input: the outputs of one run over both days', () => {
  const dir = tempDir('tributary-cli-continue-');
  const all = join(dir, 'all.ndjson');
  const g = tributary(['generate', '--events', '6000', '--seed', '12', '--out', all]);
  assert.equal(g.code, 0, g.stderr);
  const lines = readFileSync(all, 'utf8').split('\n').filter(Boolean);
  const day1 = join(dir, 'day1.ndjson');
  const day2 = join(dir, 'day2.ndjson');
  writeFileSync(day1, lines.slice(0, 3000).join('\n') + '\n');
  writeFileSync(day2, lines.slice(3000).join('\n') + '\n');

  const one = tributary(['run', PIPELINE, '--input', all, '--out-dir', join(dir, 'one'), '--quiet']);
  assert.equal(one.code, 0, one.stderr);
  assert.doesNotMatch(one.stdout, /state left open/, 'no --state-dir: final, as before');

  const state = join(dir, 'state');
  const r1 = tributary(['run', PIPELINE, '--input', day1, '--out-dir', join(dir, 'day1'), '--state-dir', state, '--quiet']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /^done: pipeline cart-abandonment, 3000 records/);
  assert.match(r1.stdout, /state left open in .* \(not final\)/);
  // Continuing into day 1's out-dir would write over its outputs: refused, nothing changed (the
  // run below continues the same state to the same records).
  const day1Outputs = streams(join(dir, 'day1'));
  const over = tributary(['run', PIPELINE, '--input', day2, '--out-dir', join(dir, 'day1'), '--state-dir', state, '--quiet']);
  assert.equal(over.code, 1, over.stderr);
  assert.equal(over.stderr, `error: ${join(dir, 'day1')} holds outputs of an earlier run (events.ndjson) and this run continues the state of ${state} from where a run left it, writing its own outputs from empty: choose another --out-dir, or --restart to start over\n`);
  assert.deepEqual(streams(join(dir, 'day1')), day1Outputs);
  const r2 = tributary(['run', PIPELINE, '--input', day2, '--out-dir', join(dir, 'day2'), '--state-dir', state, '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /^done: pipeline cart-abandonment, 3000 records from [^\n]*day2\.ndjson in/, 'not a resume');
  assert.match(r2.stdout, /continued from the state a previous run left open/);
  assert.equal(droppedDuplicates(r1.stdout) + droppedDuplicates(r2.stdout), droppedDuplicates(one.stdout), 'day 2 copies of day 1 messages are dropped');
  const open = streams(join(dir, 'day1'), join(dir, 'day2'));
  const reference = streams(join(dir, 'one'));
  assert.deepEqual(open.events, reference.events);
  assert.ok(open.sessions!.length < reference.sessions!.length, 'sessions still open after day 2');

  const close = tributary(['run', PIPELINE, '--input', '/dev/null', '--format', 'json', '--out-dir', join(dir, 'close'), '--state-dir', state, '--final', '--quiet']);
  assert.equal(close.code, 0, close.stderr);
  assert.match(close.stdout, /^done: pipeline cart-abandonment, 0 records/);
  assert.doesNotMatch(close.stdout, /state left open/);
  assert.deepEqual(streams(join(dir, 'day1'), join(dir, 'day2'), join(dir, 'close')), reference);
});
