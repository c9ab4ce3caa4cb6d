import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/cli.js';

const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
const imports = (file: string) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1] as string);

test('dependency direction: lib never imports operators/ or bin/ (the registry is handed in)', () => {
  const offenders = sources('lib').flatMap((f) => imports(f).filter((i) => /(^|\/)(operators|bin)\//.test(i)).map((i) => `${f} → ${i}`));
  assert.deepEqual(offenders, []);
});

test('dependency direction: operators import lib, never bin/', () => {
  const offenders = sources('operators').flatMap((f) => imports(f).filter((i) => /(^|\/)bin\//.test(i)).map((i) => `${f} → ${i}`));
  assert.deepEqual(offenders, []);
});

test('no wall clock in operator code: time comes from the injected clock', () => {
  const offenders = sources('operators').filter((f) => /Date\.now\(|new Date\(\)/.test(readFileSync(join(ROOT, f), 'utf8')));
  assert.deepEqual(offenders, []);
});

for (const layer of ['lib', 'operators']) {
  test(`${layer}/ stays readable in one sitting: no file is longer than 400 lines`, () => {
    const tooLong = sources(layer)
      .map((f) => ({ f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400)
      .map(({ f, lines }) => `${f}: ${lines} lines`);
    assert.deepEqual(tooLong, []);
  });
}

test('the in-memory Kafka is a client like kafkajs\'s: no file under lib/runtime/kafka/memory imports kafkajs or the runner', () => {
  const files = sources('lib/runtime/kafka/memory');
  assert.ok(files.length > 0);
  const offenders = files.flatMap((f) => imports(f).filter((i) => i === 'kafkajs' || /runner\.js$/.test(i)).map((i) => `${f} → ${i}`));
  assert.deepEqual(offenders, []);
});
