// A line longer than maxRecordBytes is not held whole: once it passes the limit the reader skips
// to its end and reports it as `oversized` with its first 1024 characters; the lines around it
// come through, with their line numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readNdjsonBatches, type NdjsonItem } from '../../lib/serde/json.js';

async function items(chunks: string[], maxRecordBytes: number): Promise<NdjsonItem[]> {
  const out: NdjsonItem[] = [];
  async function* source() {
    for (const c of chunks) yield Buffer.from(c);
  }
  for await (const batch of readNdjsonBatches(source(), { maxRecordBytes })) out.push(...batch);
  return out;
}

test('a 5 MB line in 64 KB chunks with a 1 MiB limit: skipped as oversized, the next line read', async () => {
  const chunk = 'x'.repeat(64 * 1024);
  const chunks = ['{"a":1}\n{"long":"', ...Array<string>(80).fill(chunk), '"}\n{"b":2}\n'];
  const got = await items(chunks, 1 << 20);
  assert.equal(got.length, 3);
  assert.deepEqual(got[0], { ok: true, value: { a: 1 }, line: 1, raw: '{"a":1}' });
  const long = got[1] as Extract<NdjsonItem, { ok: false }>;
  assert.deepEqual([long.ok, long.reason, long.line, long.raw.length], [false, 'oversized', 2, 1025]);
  assert.equal(long.detail, `line of ${9 + 80 * 64 * 1024 + 2} characters, more than maxRecordBytes 1048576; skipped without reading it whole (raw: its first 1024 characters)`);
  assert.deepEqual(got[2], { ok: true, value: { b: 2 }, line: 3, raw: '{"b":2}' });
});

test('a long last line without a newline is reported at the end of input', async () => {
  const got = await items(['{"a":1}\n', 'y'.repeat(3000), 'y'.repeat(3000)], 4096);
  assert.deepEqual(got.map((i) => [i.ok, i.line, i.ok ? undefined : i.reason]), [[true, 1, undefined], [false, 2, 'oversized']]);
});
