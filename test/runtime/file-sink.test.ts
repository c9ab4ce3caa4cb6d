import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileSinks } from '../../lib/runtime/file-sink.js';
import { tempDir } from '../support/tmp.js';

const line = (r: unknown) => `${JSON.stringify(r)}\n`;

test('file sink: lines in order across buffer drains, a line longer than the buffer, multi-byte text; sizes are UTF-8 bytes', async () => {
  const dir = tempDir();
  const sinks = new FileSinks(dir, ['events', 'late']);
  const records: Array<Record<string, unknown>> = [];
  // ~1.6 MB of short lines (several 256 KiB buffers), with a 600k-character line (more than a
  // buffer at 1 byte per character) and a 100k-character line of 3-byte characters in between.
  for (let i = 0; i < 12_000; i++) {
    const r: Record<string, unknown> = { messageId: `m${i}`, note: i % 7 === 0 ? 'café 😀 ü' : 'plain', n: i };
    if (i === 5_000) r.long = 'x'.repeat(600_000);
    if (i === 9_000) r.wide = '€'.repeat(100_000);
    records.push(r);
    sinks.write('events', r);
  }
  sinks.write('late', { messageId: 'late-1', watermark: 5 });
  const expected = records.map(line).join('');
  const sizes = sinks.sizes();
  assert.deepEqual(sizes, { events: Buffer.byteLength(expected), late: Buffer.byteLength(line({ messageId: 'late-1', watermark: 5 })) });
  await sinks.flush();
  assert.equal(readFileSync(join(dir, 'events.ndjson'), 'utf8'), expected);
  assert.deepEqual(sinks.counts(), { events: 12_000, late: 1 });
  sinks.write('events', { after: 'flush' });
  sinks.close();
  assert.equal(readFileSync(join(dir, 'events.ndjson'), 'utf8'), `${expected}${line({ after: 'flush' })}`);
});

test('file sink: a resumed sink cuts each file back to the checkpoint bytes and appends after them', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'events.ndjson'), `${line({ a: 1 })}${line({ a: 2 })}{"torn":`);
  const sinks = new FileSinks(dir, ['events'], { events: Buffer.byteLength(line({ a: 1 })) });
  sinks.write('events', { a: 'é' });
  assert.deepEqual(sinks.sizes(), { events: Buffer.byteLength(line({ a: 1 }) + line({ a: 'é' })) });
  sinks.close();
  assert.equal(readFileSync(join(dir, 'events.ndjson'), 'utf8'), `${line({ a: 1 })}${line({ a: 'é' })}`);
});
