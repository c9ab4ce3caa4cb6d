// Resuming an interrupted run appends after the bytes its checkpoint wrote. An output that is
// shorter than that now was changed since (truncated by hand, rewritten): the run refuses to
// resume with what to do, instead of appending to it and misfiling records without a word.
import assert from 'node:assert/strict';
import { statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateEvents } from '../../lib/generate/index.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { defaultRegistry } from '../../operators/index.js';
import { ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

test('an output truncated after an interrupted run: the resume refuses, naming the file and the fix', async () => {
  const dir = tempDir();
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, [...generateEvents({ events: 3000, seed: 2 })].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const topology = compilePipeline(loadPipelineFile(join(ROOT, 'examples/cart-abandonment/pipeline.yaml'), defaultRegistry), defaultRegistry);
  const abort = new AbortController();
  const out = join(dir, 'out');
  const first = await runEmbedded({ topology, input, outDir: out, checkpointEvery: 500, progressEveryMs: 0, signal: abort.signal, onProgress: (p) => p.records >= 1000 && abort.abort() });
  assert.equal(first.interrupted, true);
  const events = join(out, 'events.ndjson');
  const size = statSync(events).size;
  assert.ok(size > 100);
  truncateSync(events, 10);
  await assert.rejects(runEmbedded({ topology, input, outDir: out }), {
    message: `${events} has 10 bytes but the checkpoint it resumes from wrote ${size}: the output was changed since; run again with --restart to start over, or restore the output`,
  });
});
