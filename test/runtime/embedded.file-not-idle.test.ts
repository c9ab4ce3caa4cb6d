/**
 * A file never goes quiet: however long its records take to read (a 400 MB line, a resume
 * skipping to its checkpoint, a slow disk), processing time must not move an embedded run's
 * watermark, or its outputs would depend on the machine's speed and a resumed run could differ
 * from an uninterrupted one. Here the clock jumps 10 minutes (past `idleTimeout`, 30 s) at every
 * reading; the outputs are byte-identical to a run whose clock stands still.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import type { Clock } from '../../lib/time/clock.js';
import { defaultRegistry } from '../../operators/index.js';
import { tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const outputs = (d: string) =>
  Object.fromEntries(readdirSync(d).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, readFileSync(join(d, f), 'utf8')]));

test('embedded file run: a clock that jumps 10 minutes at every reading gives the same outputs as one that stands still (no idle watermark for a file)', async () => {
  const dir = tempDir();
  const input = join(dir, 'events.ndjson');
  const g = tributary(['generate', '--events', '4000', '--seed', '9', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  const lines = readFileSync(input, 'utf8').trim().split('\n');
  const last = Math.max(...lines.map((l) => (JSON.parse(l) as { timestamp: number }).timestamp));
  const topology = compilePipeline(loadPipelineFile('examples/cart-abandonment/pipeline.yaml', defaultRegistry), defaultRegistry);
  const still: Clock = { now: () => last + 3_600_000 };
  let t = last + 3_600_000;
  const jumping: Clock = { now: () => (t += 600_000) };
  await runEmbedded({ topology, input, outDir: join(dir, 'still'), clock: still, checkpointEvery: 500 });
  await runEmbedded({ topology, input, outDir: join(dir, 'jumping'), clock: jumping, checkpointEvery: 500 });
  const a = outputs(join(dir, 'still'));
  const b = outputs(join(dir, 'jumping'));
  assert.ok(a['campaign-triggers.ndjson']!.length > 0 && a['sessions.ndjson']!.length > 0, 'triggers and sessions to compare');
  assert.equal(b['late.ndjson'], a['late.ndjson'], 'the same late records');
  assert.deepEqual(b, a);
});
