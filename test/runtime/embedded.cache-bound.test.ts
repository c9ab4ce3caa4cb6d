/**
 * The caching layer's memory bound changes where state lives, never what comes out: the cart-abandonment
 * pipeline (every stateful operator) over the same generated stream gives byte-identical outputs
 * with every store resident (the default), with stores that start resident and turn read-through
 * when they outgrow a 256 KiB budget, and with no cache at all (`--cache-mb 0`: every read of a
 * key not written since the last checkpoint goes to LMDB).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { defaultRegistry } from '../../operators/index.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir();
const input = join(dir, 'events.ndjson');
const topology = () => compilePipeline(loadPipelineFile('examples/cart-abandonment/pipeline.yaml', defaultRegistry), defaultRegistry);

const outputs = (d: string) =>
  Object.fromEntries(readdirSync(d).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, readFileSync(join(d, f), 'utf8')]));

let resident: Record<string, string>;

before(async () => {
  const g = tributary(['generate', '--events', '12000', '--seed', '5', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  const out = join(dir, 'resident');
  await runEmbedded({ topology: topology(), input, outDir: out, checkpointEvery: 1000 });
  resident = outputs(out);
});

test('resident state: every stream is written, with derived records on each', () => {
  assert.deepEqual(Object.keys(resident), ['campaign-triggers.ndjson', 'customer-features.ndjson', 'dead-letter.ndjson', 'events.ndjson', 'forgotten.ndjson', 'identity-merges.ndjson', 'late.ndjson', 'sessions.ndjson']);
  for (const f of ['campaign-triggers.ndjson', 'customer-features.ndjson', 'events.ndjson', 'sessions.ndjson']) {
    assert.ok(resident[f]!.split('\n').length > 100, `${f} has records`);
  }
});

for (const [label, cacheBytes] of [
  ['a 256 KiB budget (stores turn read-through mid-run)', 256 * 1024],
  ['no cache (every store read-through)', 0],
] as const) {
  test(`${label}: the same bytes in every stream as with resident state`, async () => {
    const out = join(dir, `budget-${cacheBytes}`);
    await runEmbedded({ topology: topology(), input, outDir: out, checkpointEvery: 1000, cacheBytes });
    const got = outputs(out);
    assert.deepEqual(Object.keys(got), Object.keys(resident));
    for (const f of Object.keys(resident)) assert.ok(got[f] === resident[f], `${f} differs from the resident run`);
  });
}

test('--cache-mb on the command line: 0 gives the resident outputs too', () => {
  const out = join(dir, 'cli-0');
  const r = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--input', input, '--out-dir', out, '--cache-mb', '0', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(outputs(out), resident);
});
