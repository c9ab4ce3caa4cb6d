// A task's local LMDB state damaged between two bounded runs (memory broker): truncated, or its
// meta pages overwritten. Opening it as it is would kill the process (SIGBUS/SIGSEGV in LMDB);
// the task instead deletes it, says so in one warning line, restores its stores from the
// changelogs, and the two runs give the records of one embedded run over both halves (dedupe
// still catching second-half re-sends of first-half messages, which needs the restored keys).
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runKafka } from '../../../lib/runtime/kafka/runner.js';
import { dedupeFirstHalf } from '../../support/dedupe-halves.js';
import { diffWithEmbedded, exact, summarize } from '../../support/memory-kafka.js';

test('dedupe: one task\'s local state truncated, another\'s meta pages overwritten, between two bounded runs: rebuilt from the changelogs with one warning each; results as one run', async () => {
  const { s, app, stateDir, second, resent, produceSecond } = await dedupeFirstHalf(31);

  const truncated = join(stateDir, app, '0_0', 'data.mdb');
  const size = statSync(truncated).size;
  truncateSync(truncated, 3 * 4096);
  const overwritten = join(stateDir, app, '0_1', 'data.mdb');
  const fd = openSync(overwritten, 'r+');
  writeSync(fd, Buffer.alloc(2 * 4096, 'not an LMDB page '), 0, 2 * 4096, 0);
  closeSync(fd);

  await produceSecond();
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
