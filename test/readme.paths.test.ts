// The README names files a reader will open: every repository path it mentions exists.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/cli.js';

test('README: every repository path it names exists', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const paths = new Set<string>();
  for (const m of readme.matchAll(/(?<![\w./-])((?:examples|lib|operators|benchmarks|scripts|test|tools|schema|bin)\/[\w./-]*[\w/])/g)) {
    const p = m[1] as string;
    if (/[<>*…]/.test(p) || p.includes('/out/')) continue;
    paths.add(p.replace(/\.js$/, '.ts').replace(/^dist\//, ''));
  }
  assert.ok(paths.size > 20, `found ${paths.size} paths`);
  const missing = [...paths].filter((p) => !existsSync(join(ROOT, p)) && !existsSync(join(ROOT, p.replace(/\.ts$/, '.js'))) && !existsSync(join(ROOT, p.replace(/\.ts$/, '.mjs'))));
  assert.deepEqual(missing, []);
});
