// Trigger metrics by rule: every record of the trigger's output counted as fired, every
// suppressed candidate counted by reason, in agreement with the run summary.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { generateEvents } from '../../lib/generate/index.js';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { defaultRegistry } from '../../operators/index.js';
import { tempDir } from '../support/tmp.js';

test('tributary_triggers_fired_total and _suppressed_total by rule agree with the records written and the summary', async () => {
  const dir = tempDir();
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, [...generateEvents({ events: 6000, seed: 3 })].map((e) => JSON.stringify(e)).join('\n') + '\n');
  const yaml = readFileSync(new URL('../../../examples/cart-abandonment/pipeline.yaml', import.meta.url), 'utf8');
  const topology = compilePipeline(parsePipeline(yaml, 'pipeline.yaml', defaultRegistry), defaultRegistry);
  const registry = new Registry();
  const summary = await runEmbedded({ topology, input, outDir: join(dir, 'out'), registry });
  // The run's metrics are the ones on the registry it was given.
  const metrics = { fired: await registry.getSingleMetric('tributary_triggers_fired_total')?.get(), suppressed: await registry.getSingleMetric('tributary_triggers_suppressed_total')?.get() };
  const fired = (metrics.fired?.values ?? []).map((v) => `${String(v.labels.step)} ${String(v.labels.rule)} ${v.value}`);
  const suppressed = (metrics.suppressed?.values ?? []).map((v) => `${String(v.labels.rule)} ${String(v.labels.reason)} ${v.value}`);
  const written = summary.streams['campaign-triggers'] ?? 0;
  const cooldown = summary.steps.find((s) => s.step === 'trigger')?.counted['suppressed-cooldown'] ?? 0;
  assert.ok(written > 10 && cooldown > 0, `the input fires carts (${written}) and suppresses some (${cooldown})`);
  assert.deepEqual(fired, [`trigger cart-abandoned ${written}`]);
  assert.deepEqual(suppressed, [`cart-abandoned cooldown ${cooldown}`]);
  // `fired` is not a step outcome: the summary's counted outcomes are unchanged.
  assert.deepEqual(Object.keys(summary.steps.find((s) => s.step === 'trigger')?.counted ?? {}), ['suppressed-cooldown']);
});
