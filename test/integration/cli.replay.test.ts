// `tributary replay` as a user runs it against the real broker: a time range of the source
// (by the records' Kafka timestamps) re-run into fresh files equals an embedded run over just
// the events produced in that range; the live application's group is never touched.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TributaryEvent } from '../../lib/event/event.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { tributary } from '../support/cli.js';
import { personPartitioner, produceEvents, testAdapter, testEvents, uniquePipeline } from '../support/kafka-pipeline.js';
import { createTopic, kafkaBrokers, skipReason } from '../support/kafka.js';
import { streamMultisets } from '../support/outputs.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

async function embeddedOver(events: TributaryEvent[], p: ReturnType<typeof uniquePipeline>, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  await runEmbedded({ topology: p.topology, input, outDir: join(dir, 'out') });
  return join(dir, 'out');
}

test('replay: --from/--to by produce time give exactly the embedded run over those events; no consumer group', { skip, timeout: 120_000 }, async () => {
  const dir = tempDir();
  const p = uniquePipeline('examples/cart-abandonment/pipeline.yaml', dir);
  const events = testEvents(1600, 31);
  const first = events.slice(0, 800);
  const second = events.slice(800);
  await createTopic(p.source, { partitions: 3 });
  const adapter = testAdapter();
  const partitionOf = personPartitioner(events, 3);
  await produceEvents(adapter, p.source, first, p.topology.source.key, partitionOf);
  await sleep(50);
  const between = new Date(Date.now()).toISOString();
  await sleep(50);
  await produceEvents(adapter, p.source, second, p.topology.source.key, partitionOf);

  const brokers = ['--brokers', (kafkaBrokers() ?? []).join(',')];
  const later = tributary(['replay', p.file, '--from', between, '--out-dir', join(dir, 'r2'), '-q', ...brokers]);
  assert.equal(later.code, 0, later.stderr);
  assert.match(later.stdout, new RegExp(`^done: pipeline ${p.topology.name}, 800 records from ${p.source} ${between.replace(/[.]/g, '\\.')}\\.\\.end`));
  assert.deepEqual(streamMultisets(join(dir, 'r2')), streamMultisets(await embeddedOver(second, p, join(dir, 'e2'))));

  const earlier = tributary(['replay', p.file, '--from', '2000-01-01T00:00:00Z', '--to', between, '--out-dir', join(dir, 'r1'), '-q', ...brokers]);
  assert.equal(earlier.code, 0, earlier.stderr);
  assert.deepEqual(streamMultisets(join(dir, 'r1')), streamMultisets(await embeddedOver(first, p, join(dir, 'e1'))));

  // The live application's group was never joined: it has no committed offsets.
  const admin = await adapter.admin();
  try {
    const committed = await admin.fetchOffsets(p.topology.name, p.source);
    assert.deepEqual(committed.map((o) => o.offset), ['-1', '-1', '-1']);
  } finally {
    await admin.disconnect();
  }
  const backwards = tributary(['replay', p.file, '--from', between, '--to', '2000-01-01T00:00:00Z', '--out-dir', join(dir, 'r3'), ...brokers]);
  assert.deepEqual([backwards.code, backwards.stderr], [2, 'error: --to must be after --from\n']);
});
