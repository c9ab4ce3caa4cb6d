// A task's local LMDB state damaged between two bounded runs (memory broker): truncated, or its
// meta pages overwritten. Opening it as it is would kill the process (SIGBUS/SIGSEGV in LMDB);
// the task instead deletes it, says so in one warning line, restores its stores from the
// changelogs, and the two runs give the records of one embedded run over both halves (dedupe
// still catching second-half re-sends of first-half messages, which needs the restored keys).
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../../lib/event/event.js';
import type { PipelineDefinition } from '../../../lib/pipeline/definition.js';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { diffWithEmbedded, exact, memoryScenario, summarize } from '../../support/memory-kafka.js';

/** First half, then the second half with re-sends of first-half messages spread through it. */
function withResends(events: TributaryEvent[]): { first: TributaryEvent[]; second: TributaryEvent[]; resent: number } {
  const first = events.slice(0, events.length / 2);
  const resends = first.filter((_e, i) => i % 10 === 3);
  const resent = resends.length;
  const second: TributaryEvent[] = [];
  events.slice(events.length / 2).forEach((e, i) => {
    second.push(e);
    if (i % 4 === 0 && resends.length > 0) second.push(resends.shift()!);
  });
  second.push(...resends);
  return { first, second, resent };
}

test('dedupe: one task\'s local state truncated, another\'s meta pages overwritten, between two bounded runs: rebuilt from the changelogs with one warning each; results as one run', async () => {
  const { first, second, resent } = withResends(testEvents(1000, 31));
  const s = await memoryScenario('examples/rees46-dedupe/pipeline.yaml', {
    events: [...first, ...second], produce: first, partitions: 3,
    edit: (def: PipelineDefinition) => {
      def.source = { topic: def.source.topic, format: 'json', key: ['userId', 'anonymousId'], timestamp: 'timestamp', allowedLateness: '30d' } as PipelineDefinition['source'];
    },
  });
  const app = s.p.topology.name;
  const stateDir = join(s.dir, 'state');
  const run1 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, bounded: true, tickMs: 20 });
  assert.equal(run1.interrupted, false, 'the bounded run ended');
  assert.equal(run1.records, first.length);

  const truncated = join(stateDir, app, '0_0', 'data.mdb');
  const size = statSync(truncated).size;
  truncateSync(truncated, 3 * 4096);
  const overwritten = join(stateDir, app, '0_1', 'data.mdb');
  const fd = openSync(overwritten, 'r+');
  writeSync(fd, Buffer.alloc(2 * 4096, 'not an LMDB page '), 0, 2 * 4096, 0);
  closeSync(fd);

  await produceEvents(s.kafka.adapter('setup'), s.p.source, second, s.p.topology.source.key, s.partitionOf);
  const logs: string[] = [];
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20, log: (l) => logs.push(l) });
  assert.equal(run2.interrupted, false);
  assert.equal(run2.records, second.length);
  assert.deepEqual(logs.filter((l) => l.startsWith('warning:')).sort(), [
    `warning: task 0_0: local state unusable: ${truncated} (truncated: ${3 * 4096} bytes, its last commit uses ${size} (page ${size / 4096 - 1})); rebuilding it from the changelogs`,
    `warning: task 0_1: local state unusable: ${overwritten} (meta page 0 is not an LMDB meta page); rebuilding it from the changelogs`,
  ]);
  // The two rebuilt tasks restored their stores; the sound one did not need to.
  const restoredTasks = [...new Set(run2.restored.map((r) => r.task))].sort();
  assert.deepEqual(restoredTasks, ['0_0', '0_1']);
  assert.ok(run2.restored.every((r) => r.reason === 'missing' && r.records > 0), JSON.stringify(run2.restored));
  assert.ok((s.embedded.streams.duplicates ?? 0) >= resent, `${resent} re-sends are duplicates in the reference`);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});
