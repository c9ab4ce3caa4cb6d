// What `npm publish` would ship: the runtime code and its types, the schemas, the examples, the
// README and LICENSE; no tests, benchmarks or source maps. Every export of package.json is in the
// tarball, and the README imports the package by its published name.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ROOT } from './support/cli.js';

interface Packed { name: string; files: Array<{ path: string }> }

test('npm pack: runtime dist, schemas, examples, README and LICENSE only; every export and the bin inside', () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { name: string; bin: Record<string, string>; exports: Record<string, string>; license: string };
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [packed] = JSON.parse(out) as Packed[];
  assert.ok(packed);
  const files = packed.files.map((f) => f.path);
  assert.equal(packed.name, 'tributary-streams');
  assert.deepEqual(pkg.bin, { tributary: 'dist/bin/tributary.js' });
  assert.equal(pkg.license, 'Apache-2.0');
  for (const must of ['LICENSE', 'README.md', 'package.json', 'dist/bin/tributary.js', 'schema/pipeline.schema.json', 'schema/event.avsc', 'dist/lib/index.d.ts', 'dist/bin/bench-child.js', 'dist/lib/bench/baselines/dedupe-map.js', 'dist/lib/bench/baselines/dedupe-lmdb.js']) {
    assert.ok(files.includes(must), `${must} is shipped`);
  }
  for (const target of Object.values(pkg.exports)) assert.ok(files.includes(target.replace(/^\.\//, '')), `export ${target} is shipped`);
  const unwanted = files.filter((f) => f.endsWith('.map') || /^dist\/(test|benchmarks|scripts)\//.test(f) || /^(lib|operators|test|benchmarks|tools|scripts)\//.test(f));
  assert.deepEqual(unwanted, []);
  assert.match(readFileSync(`${ROOT}LICENSE`, 'utf8'), /^\s+Apache License\n\s+Version 2\.0, January 2004/);
});

test('README: code imports the package by its published name', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const imports = [...readme.matchAll(/from '([^'.][^']*)'/g)].map((m) => m[1] as string).filter((m) => !m.startsWith('node:'));
  assert.ok(imports.length >= 5);
  const foreign = imports.filter((m) => !/^tributary-streams(\/(operators|testing))?$/.test(m) && !['rxjs', 'prom-client', 'kafkajs'].includes(m));
  assert.deepEqual(foreign, []);
});
