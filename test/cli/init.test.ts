// `tributary init` as a new user runs it: the scaffold runs (records in every stream it
// declares), its own test passes with the package's test driver, and nothing is overwritten.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tributary } from '../support/cli.js';

test('init: a pipeline, sample events and a test that run as written; existing files are kept', (t) => {
  // Inside the repository, so the scaffold's `import 'tributary-streams/…'` resolves to this package.
  const dir = join(ROOT, 'out', `init-test-${process.pid}`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const init = tributary(['init', dir, '--events', '1500']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /^wrote .*pipeline\.yaml, .*events\.ndjson, .*pipeline\.test\.mjs\nnext:\n/);
  assert.match(readFileSync(join(dir, 'pipeline.yaml'), 'utf8'), new RegExp(`^name: init-test-${process.pid}$`, 'm'));
  assert.equal(readFileSync(join(dir, 'events.ndjson'), 'utf8').trimEnd().split('\n').length, 1500);

  const run = tributary(['run', join(dir, 'pipeline.yaml'), '--input', join(dir, 'events.ndjson'), '--out-dir', join(dir, 'out'), '-q']);
  assert.equal(run.code, 0, run.stderr);
  for (const stream of ['duplicates', 'sessions', 'campaign-triggers']) {
    assert.ok(readFileSync(join(dir, 'out', `${stream}.ndjson`), 'utf8').length > 0, `${stream} has records`);
  }
  // Run as its own test run (not a child reporting to this one).
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const own = spawnSync(process.execPath, ['--test', join(dir, 'pipeline.test.mjs')], { cwd: ROOT, encoding: 'utf8', env });
  assert.equal(own.status, 0, own.stdout + own.stderr);
  assert.match(own.stdout, /# pass 1\n# fail 0/);

  const again = tributary(['init', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: .*pipeline\.yaml, .*events\.ndjson, .*pipeline\.test\.mjs already exist; nothing was written \(choose another directory\)\n$/);
  const badName = tributary(['init', join(dir, 'x'), '--name', '9lives']);
  assert.deepEqual([badName.code, badName.stderr], [2, 'error: --name "9lives": a pipeline name starts with a letter, then letters, digits and dashes\n']);
});
