// A 1 MiB read of NDJSON comes out as batches of at most 256 Ki characters of input, so a reader
// that lets other work in between batches (the operations endpoint during an embedded run) never
// waits for a whole megabyte to be parsed; lines cut by a slice boundary come out whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readNdjsonBatches } from '../../lib/serde/json.js';

test('one 1 MiB chunk: batches of at most 256 Ki characters, every line whole and in order', async () => {
  const lines: string[] = [];
  for (let i = 0, chars = 0; chars < 1 << 20; i++) {
    lines.push(JSON.stringify({ i, pad: 'x'.repeat(97 + (i % 13)) }));
    chars += (lines[i] as string).length + 1;
  }
  const text = lines.join('\n') + '\n';
  const chunk = new TextEncoder().encode(text);
  const batches: number[] = [];
  const seen: number[] = [];
  for await (const batch of readNdjsonBatches((async function* () { yield chunk; })())) {
    batches.push(batch.length);
    for (const item of batch) {
      assert.ok(item.ok);
      seen.push((item.value as { i: number }).i);
    }
  }
  assert.deepEqual(seen, lines.map((_, i) => i));
  assert.equal(batches.length, Math.ceil(text.length / (256 * 1024)));
  const shortest = Math.min(...lines.map((l) => l.length + 1));
  for (const n of batches) assert.ok(n <= Math.ceil((256 * 1024) / shortest) + 1, `${n} lines in a batch`);
});
