import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tributary, ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('npm start example: REES46 slice through dedupe, counts checked against an independent count', () => {
  const csv = readFileSync(join(ROOT, 'examples/data/rees46-2019-10-01-head.csv'), 'utf8').split('\n').slice(1).filter(Boolean);
  const distinct = new Set(csv);
  const out = tempDir();
  const r = tributary(['run', 'examples/rees46-dedupe/pipeline.yaml', '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);

  const events = readNdjson(join(out, 'events.ndjson'));
  const duplicates = readNdjson(join(out, 'duplicates.ndjson'));
  assert.equal(events.length, distinct.size);
  assert.equal(duplicates.length, csv.length - distinct.size);
  assert.ok(duplicates.length > 0, 'the slice has exact duplicate rows');
  assert.deepEqual(readNdjson(join(out, 'dead-letter.ndjson')), []);
  assert.deepEqual(readNdjson(join(out, 'late.ndjson')), []);
  assert.equal(new Set(events.map((e) => e.messageId)).size, events.length);

  // The first row, mapped exactly.
  assert.deepEqual(events[0], {
    messageId: events[0]?.messageId,
    type: 'track',
    event: 'product_viewed',
    userId: '541312140',
    anonymousId: null,
    timestamp: Date.UTC(2019, 9, 1, 0, 0, 0),
    properties: { productId: '44600062', categoryId: '2103807459595387724', brand: 'shiseido', price: 35.79, shopSessionId: '72d76fde-8bb3-4e00-8c23-a032dfed738c' },
    context: { channel: 'web' },
  });
  const names = new Set(events.map((e) => e.event));
  assert.deepEqual([...names].sort(), ['add_to_cart', 'product_viewed', 'purchase']);

  assert.match(r.stdout, new RegExp(`done: pipeline rees46-dedupe, ${csv.length} records from examples/data/rees46-2019-10-01-head.csv`));
  assert.match(r.stdout, new RegExp(`step dedupe: in ${csv.length}, passed ${distinct.size}, dropped duplicate ${csv.length - distinct.size}, emitted duplicates ${csv.length - distinct.size}`));
  assert.match(r.stdout, /dead letters: 0; late: 0/);
  assert.match(r.stdout, new RegExp(`events\\.ndjson  ${distinct.size} records`));
});
