// A record nested deeper than JSON.stringify (and recursive code) can take is a dead letter,
// not a crash on every run: at the decoder (files and Kafka), and end to end through the CLI.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeJsonRecord, MAX_JSON_DEPTH, nestedDeeperThan } from '../../lib/serde/json.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const nested = (levels: number) => `{"messageId":"deep","type":"track","event":"x","userId":"u1","timestamp":0,"properties":${'{"a":'.repeat(levels - 1)}1${'}'.repeat(levels - 1)}}`;

test('decoder: nesting up to 256 levels passes, deeper is too-deep; the check is iterative', () => {
  assert.equal(MAX_JSON_DEPTH, 256);
  const ok = decodeJsonRecord(nested(MAX_JSON_DEPTH));
  assert.equal(ok.ok, true);
  assert.deepEqual(decodeJsonRecord(nested(MAX_JSON_DEPTH + 1)), { ok: false, reason: 'too-deep', detail: 'nested more than 256 levels (objects and arrays)' });
  assert.deepEqual(decodeJsonRecord(nested(100_000)), { ok: false, reason: 'too-deep', detail: 'nested more than 256 levels (objects and arrays)' });
  assert.equal(nestedDeeperThan([[[[]]]], 3), true);
  assert.equal(nestedDeeperThan({ a: [1, { b: 2 }] }, 3), false);
});

test('a 200 KB line nested 100,000 levels among good events: a dead letter with its reason, the run goes on, exit 0', () => {
  const dir = tempDir();
  const good = (i: number) => JSON.stringify({ messageId: `m${i}`, type: 'track', event: 'view', userId: 'u1', timestamp: i * 1000 });
  writeFileSync(join(dir, 'in.ndjson'), [good(1), nested(100_000), good(2)].join('\n') + '\n');
  const r = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--input', join(dir, 'in.ndjson'), '--out-dir', join(dir, 'out'), '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dead letters: too-deep 1; late: 0/);
  const dead = readFileSync(join(dir, 'out', 'dead-letter.ndjson'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { reason: string; source: string });
  assert.deepEqual(dead.map((d) => [d.reason, d.source.replace(/^.*\//, '')]), [['too-deep', 'in.ndjson:2']]);
  assert.equal(readFileSync(join(dir, 'out', 'events.ndjson'), 'utf8').trimEnd().split('\n').length, 2);
});
