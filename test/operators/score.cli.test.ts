import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

// `tributary run` as a user runs it, in their own directory: the coefficients file and the
// scoring module are found relative to the working directory.
const run = (cwd: string, args: string[]) => spawnSync(process.execPath, [BIN, 'run', ...args], { cwd, encoding: 'utf8' });
const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('score CLI: a coefficients file and a CommonJS module, relative to the working directory; a module that throws on one event dead-letters that event only', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'models'));
  writeFileSync(join(dir, 'models/ltv.json'), JSON.stringify({ intercept: 5, coefficients: { 'properties.items': 2.5 } }));
  writeFileSync(join(dir, 'models/churn.cjs'), "module.exports.score = (e) => { if (e.properties.items < 0) throw new Error('negative items: ' + e.properties.items); return e.properties.items > 2 ? 0.1 : 0.9; };\n");
  writeFileSync(join(dir, 'pipeline.yaml'), `name: scoring
source: { key: [anonymousId] }
steps:
  - score: { name: ltv, field: scores.ltv, linear: { coefficientsFile: models/ltv.json } }
  - score: { name: churn, field: scores.churn, module: models/churn.cjs }
`);
  const line = (id: string, items: number) => JSON.stringify({ messageId: id, type: 'track', event: 'order', anonymousId: 'a1', timestamp: 1000, properties: { items } });
  writeFileSync(join(dir, 'in.ndjson'), `${[line('m1', 1), line('m2', 4), line('m3', -1)].join('\n')}\n`);
  const r = run(dir, ['pipeline.yaml', '--input', 'in.ndjson', '--out-dir', 'out', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readNdjson(join(dir, 'out/events.ndjson')).map((e) => [e.messageId, e.scores]), [['m1', { ltv: 7.5, churn: 0.9 }], ['m2', { ltv: 15, churn: 0.1 }]]);
  const dead = readNdjson(join(dir, 'out/dead-letter.ndjson'));
  assert.deepEqual(dead.map((d) => [d.reason, d.detail, d.source]), [['score-error', 'module models/churn.cjs threw: negative items: -1', 'step churn']]);
  assert.deepEqual((JSON.parse(dead[0]?.raw as string) as { scores: unknown }).scores, { ltv: 2.5 }, 'the raw event as the step got it');
});

test('score CLI: a module outside the working directory is a definition error at the step (exit 2, nothing run)', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'pipeline.yaml'), 'name: scoring\nsource: { key: [anonymousId] }\nsteps:\n  - score: { field: s, module: ../churn.cjs }\n');
  writeFileSync(join(dir, 'in.ndjson'), '');
  const r = run(dir, ['pipeline.yaml', '--input', 'in.ndjson', '--out-dir', 'out']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^pipeline\.yaml:4:12 steps\[0\]\.score: module "\.\.\/churn\.cjs" leaves the working directory; give a path inside it \(e\.g\. models\/churn\.cjs\)$/m);
});
