// `tributary validate` given what is not a definition: an events file (NDJSON) or a very large
// file is refused at once with the likely mix-up named; a file full of syntax errors reports
// the first 20 and how many more.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateEvents } from '../../lib/generate/index.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const HINT = 'is it an events file? Give the pipeline definition first, the events with --input: tributary run <pipeline.yaml> --input <events>';

test('an events file given as the pipeline: refused in well under a second of work, exit 2, nothing run', () => {
  const dir = tempDir();
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, [...generateEvents({ events: 2000, seed: 1 })].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const t0 = performance.now();
  const r = tributary(['validate', file]);
  assert.ok(performance.now() - t0 < 10_000);
  assert.deepEqual([r.code, r.stderr], [2, `${file}:1:1 (root): one JSON object per line (NDJSON) is not a pipeline definition; ${HINT}\n${file}: invalid pipeline definition (1 issue); nothing was run\n`]);
  const run = tributary(['run', file, '--input', file, '--out-dir', join(dir, 'out')]);
  assert.equal(run.code, 2);
});

test('a 2 MiB file is not a definition; 60 syntax errors are reported as 20 and a count', () => {
  const dir = tempDir();
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(2 << 20)}\n`);
  const r = tributary(['validate', big]);
  assert.deepEqual([r.code, r.stderr.split('\n')[0]], [2, `${big}:1:1 (root): 2048 KiB is not a pipeline definition (a definition is a few KB, at most 1024 KiB); ${HINT}`]);
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, ']\n'.repeat(60));
  const b = tributary(['validate', broken]);
  const lines = b.stderr.trimEnd().split('\n');
  assert.equal(b.code, 2);
  assert.equal(lines.length, 22, 'twenty issues, the count, the summary');
  assert.match(lines[20] as string, /:20:1 \(root\): … and 40 more syntax errors after this one \(fix the first ones first\)$/);
  assert.equal(lines[21], `${broken}: invalid pipeline definition (21 issues); nothing was run`);
});

test('an alias without its anchor, and an alias bomb: exit 2 with the fix, nothing run', () => {
  const dir = tempDir();
  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, 'name: x\nsource: { key: [userId] }\nsteps:\n  - dedupe: *nope\n');
  const t = tributary(['validate', typo]);
  assert.deepEqual([t.code, t.stderr.split('\n')[0]], [2, `${typo}:1:1 (root): Unresolved alias (the anchor must be set before the alias): nope: define the anchor (&name) before using it (*name), or fix the alias's name`]);
  const bomb = join(dir, 'bomb.yaml');
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  let prev = 'a';
  for (const n of 'bcdefghi') {
    lines.push(`${n}: &${n} [${Array<string>(9).fill(`*${prev}`).join(',')}]`);
    prev = n;
  }
  lines.push('name: x', 'source: { key: [userId] }', 'steps: []', 'z: *i');
  writeFileSync(bomb, lines.join('\n') + '\n');
  const b = tributary(['validate', bomb]);
  assert.deepEqual([b.code, b.stderr.split('\n')[0]], [2, `${bomb}:1:1 (root): aliases expand to too much data (more than 100 uses): write the values out, or use fewer aliases`]);
});
