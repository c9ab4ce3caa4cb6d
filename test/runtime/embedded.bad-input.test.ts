import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('bad input: every bad line goes to dead-letter with its reason and file:line; the run goes on', () => {
  const dir = tempDir();
  const pipelineFile = join(dir, 'p.yaml');
  writeFileSync(pipelineFile, 'name: bad-input\nsource:\n  key: [anonymousId, userId]\n  allowedLateness: 1m\nsteps:\n  - dedupe: { output: duplicates }\n');
  const lines = [
    '{"messageId":"m1","type":"track","event":"view","anonymousId":"a","timestamp":"2026-01-01T00:10:00Z"}',
    '{"messageId":"m2","type":"track","event":"view","anonymousId":"a",', // malformed JSON
    '{"messageId":"m3","type":"track","event":"view","anonymousId":"a"}', // no timestamp
    '{"messageId":"m4","type":"track","event":"view","timestamp":"2026-01-01T00:10:01Z"}', // no key
    '{"messageId":"m5","type":"track","event":"view","anonymousId":"a","timestamp":"yesterday"}', // bad timestamp
    '[1,2,3]', // not an object
    '{"messageId":"m6","type":"shout","anonymousId":"a","timestamp":"2026-01-01T00:10:02Z"}', // bad type
    '{"messageId":"m7","type":"track","event":"view","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}', // late
    '{"messageId":"m1","type":"track","event":"view","anonymousId":"a","timestamp":"2026-01-01T00:10:00Z"}', // duplicate
    '{"messageId":"m8","type":"track","event":"view","anonymousId":"a","timestamp":"2026-01-01T00:11:00Z"}',
  ];
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, lines.join('\n') + '\n');
  const out = join(dir, 'out');
  const r = tributary(['run', pipelineFile, '--input', input, '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readNdjson(join(out, 'events.ndjson')).map((e) => e.messageId), ['m1', 'm8']);
  assert.deepEqual(readNdjson(join(out, 'duplicates.ndjson')).map((e) => e.messageId), ['m1']);
  assert.deepEqual(readNdjson(join(out, 'late.ndjson')).map((e) => [e.messageId, e.watermark]), [['m7', Date.UTC(2026, 0, 1, 0, 9, 0)]]);
  const dead = readNdjson(join(out, 'dead-letter.ndjson'));
  assert.deepEqual(dead.map((d) => [d.reason, d.source, d.raw]), [
    ['malformed-json', 'in.ndjson:2', lines[1]],
    ['missing-timestamp', 'in.ndjson:3', lines[2]],
    ['missing-key', 'in.ndjson:4', lines[3]],
    ['invalid-timestamp', 'in.ndjson:5', lines[4]],
    ['not-an-object', 'in.ndjson:6', lines[5]],
    ['invalid-type', 'in.ndjson:7', lines[6]],
  ]);
  for (const d of dead) assert.equal(typeof d.detail, 'string');
  assert.match(r.stdout, /dead letters: malformed-json 1, missing-timestamp 1, missing-key 1, invalid-timestamp 1, not-an-object 1, invalid-type 1; late: 1/);
});

test('stdin input works', () => {
  const dir = tempDir();
  const pipelineFile = join(dir, 'p.yaml');
  writeFileSync(pipelineFile, 'name: stdin\nsource: { key: anonymousId }\nsteps:\n  - dedupe: {}\n');
  const out = join(dir, 'out');
  const input = '{"messageId":"m1","type":"page","anonymousId":"a","timestamp":1}\n{"messageId":"m1","type":"page","anonymousId":"a","timestamp":1}\n';
  const r = tributary(['run', pipelineFile, '--input', '-', '--out-dir', out, '--quiet'], input);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readNdjson(join(out, 'events.ndjson')).map((e) => e.messageId), ['m1']);
});
