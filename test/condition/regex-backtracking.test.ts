// A `$regex` that backtracks exponentially (^(a+)+$ on 35 a's and a b) must not stall the
// pipeline on one record: V8's linear-time engine takes over. Without it this test would run for
// hours (the timeout fails it); with it, the answers are the same as a backtracking engine's.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileCondition, conditionProblems } from '../../lib/condition/condition.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

test('^(a+)+$ on 35 a and a b answers (false) instead of hanging; matches are unchanged', { timeout: 20_000 }, () => {
  const m = compileCondition({ 'properties.code': { $regex: '^(a+)+$' } });
  assert.equal(m({ properties: { code: `${'a'.repeat(35)}b` } }), false);
  assert.equal(m({ properties: { code: 'a'.repeat(35) } }), true);
  assert.equal(compileCondition({ 'properties.url': { $regex: '^([a-z]+\\.)+com$' } })({ properties: { url: 'www.example.com' } }), true);
});

test('a backreference, which the linear engine cannot run, is refused at validation', () => {
  assert.deepEqual(conditionProblems({ 'properties.x': { $regex: '^(a+)\\1$' } }), [
    'properties.x.$regex: "^(a+)\\\\1$" uses a backreference, which can take exponential time on some values; rewrite it without one',
  ]);
});

test('a filter step with such a regex over a file with the hostile value: the run ends, exit 0', { timeout: 60_000 }, () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), `name: regex
source: { key: [userId] }
steps:
  - filter: { where: { 'properties.code': { $regex: '^(a+)+$' } } }
`);
  const ev = (id: string, code: string) => JSON.stringify({ messageId: id, type: 'track', event: 'x', userId: 'u1', timestamp: 0, properties: { code } });
  writeFileSync(join(dir, 'in.ndjson'), [ev('m1', `${'a'.repeat(35)}b`), ev('m2', 'aaaa')].join('\n') + '\n');
  const r = tributary(['run', join(dir, 'p.yaml'), '--input', join(dir, 'in.ndjson'), '--out-dir', join(dir, 'out'), '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /step filter: in 2, passed 1, dropped filtered 1/);
});
