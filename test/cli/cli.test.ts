import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

test('validate: a valid example exits 0 and prints its topology', () => {
  const r = tributary(['validate', 'examples/rees46-dedupe/pipeline.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^examples\/rees46-dedupe\/pipeline\.yaml: valid\npipeline rees46-dedupe \(at-least-once\)/);
  assert.match(r.stdout, /dedupe: dedupe key=messageId stores=dedupe\.seen → duplicates/);
});

test('validate: an invalid definition exits 2 with file:line:column, the key and the fix', () => {
  const dir = tempDir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'name: bad\nsource:\n  key: anonymousId\nsteps:\n  - dedupe:\n      ttl: 30 minutes\n');
  const r = tributary(['validate', file]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `${file}:6:12 steps[0].dedupe.ttl: "30 minutes" is not a duration (use 30m)\n${file}: invalid pipeline definition (1 issue); nothing was run\n`);
});

test('run: an invalid definition exits 2 and writes nothing', () => {
  const dir = tempDir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'name: bad\nsource: {}\nsteps:\n  - dedup: {}\n');
  const out = join(dir, 'out');
  const r = tributary(['run', file, '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml:4:5 steps\[0\]\.dedup: unknown operator \(did you mean dedupe\?\)/);
  assert.throws(() => readFileSync(join(out, 'events.ndjson')), /ENOENT/);
});

test('a missing pipeline file exits 2 naming the file', () => {
  const r = tributary(['validate', 'nope.yaml']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^nope\.yaml:1:1 \(root\): cannot read the file: ENOENT/);
});

test('bad arguments exit 2; --help exits 0 for every command with an example', () => {
  const noBroker = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KAFKA_BROKERS'));
  const bare = tributary(['run', 'examples/rees46-dedupe/pipeline.yaml'], undefined, noBroker);
  assert.equal(bare.code, 2, 'neither --input nor a broker');
  assert.match(bare.stderr, /--input <file> \(embedded\) or --brokers <host:port>/);
  assert.equal(tributary(['run', 'examples/rees46-dedupe/pipeline.yaml', '--input', 'x.ndjson']).code, 2, '--input without --out-dir');
  assert.equal(tributary(['generate', '--events', 'many']).code, 2);
  assert.equal(tributary(['frobnicate']).code, 2);
  for (const cmd of ['run', 'validate', 'describe', 'generate']) {
    const r = tributary([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, /Example:\n {2}tributary /, cmd);
  }
});

test('generate: same seed, same bytes; a different seed differs; exact count', () => {
  const dir = tempDir();
  const a = join(dir, 'a.ndjson');
  const b = join(dir, 'b.ndjson');
  assert.equal(tributary(['generate', '--events', '2000', '--seed', '7', '--out', a]).code, 0);
  assert.equal(tributary(['generate', '--events', '2000', '--seed', '7', '--out', b]).code, 0);
  const textA = readFileSync(a, 'utf8');
  assert.equal(textA, readFileSync(b, 'utf8'));
  assert.equal(textA.trimEnd().split('\n').length, 2000);
  const toStdout = tributary(['generate', '--events', '2000', '--seed', '8']);
  assert.equal(toStdout.code, 0);
  assert.notEqual(toStdout.stdout, textA);
});

test('describe: text and Mermaid', () => {
  const text = tributary(['describe', 'examples/rees46-dedupe/pipeline.yaml']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(
    text.stdout,
    'pipeline rees46-dedupe (at-least-once)\n' +
      '  source: (embedded input) format=csv key=userId|anonymousId allowedLateness=60000ms\n' +
      '  sub-topology 0 (input source, key userId|anonymousId)\n' +
      '    dedupe: dedupe key=messageId stores=dedupe.seen → duplicates\n' +
      '  streams: events→rees46-dedupe-events, dead-letter→rees46-dedupe-dead-letter, late→rees46-dedupe-late, forgotten→rees46-dedupe-forgotten, duplicates→rees46-dedupe-duplicates\n',
  );
  const mermaid = tributary(['describe', 'examples/rees46-dedupe/pipeline.yaml', '--mermaid']);
  assert.equal(mermaid.code, 0, mermaid.stderr);
  assert.match(mermaid.stdout, /^flowchart LR\n {2}source\[\("input"\)\]\n {2}subgraph sub0\["sub-topology 0 · key userId\|anonymousId"\]\n {4}dedupe\["dedupe: dedupe<br\/>stores dedupe\.seen"\]\n {2}end\n {2}source --> dedupe\n/);
  assert.match(mermaid.stdout, /dedupe -\.-> out_duplicates\n/);
});
