// A 1 MiB read of NDJSON comes out as batches of at most 256 lines, each decoded when it is taken,
// so a reader that lets other work in between batches (the operations endpoint during an embedded
// run) never waits for a whole megabyte to be parsed, and the records of a batch die young.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readNdjsonBatches } from '../../lib/serde/json.js';

test('one 1 MiB chunk: batches of at most 256 lines, every line whole and in order', async () => {
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
  assert.equal(batches.length, Math.ceil(lines.length / 256));
  assert.deepEqual(batches.slice(0, -1), new Array(batches.length - 1).fill(256));
});
