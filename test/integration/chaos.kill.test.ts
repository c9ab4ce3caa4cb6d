// The chaos program's kill scenario, small: the cart-abandonment pipeline run by the CLI under
// produce load, kill -9 twice at random points and restarted, then run to the end. With
// exactly-once, a read_committed reader sees exactly the embedded run's records over the
// produced events: nothing lost, nothing twice, nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { killScenario } from '../../benchmarks/chaos/kill.js';
import { kafkaBrokers, skipReason } from '../support/kafka.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

test('chaos kill (exactly-once, 2 kills under load): every stream equals the embedded run', { skip, timeout: 300_000 }, async (t) => {
  const report = await killScenario(tempDir(), kafkaBrokers()!, {
    guarantee: 'exactly-once', rate: 1000, maxEvents: 3000, cycles: 2, seed: 7, partitions: 3, keying: 'person', killAfterMs: [2000, 6000],
  }, (line) => t.diagnostic(line));
  assert.equal(report.final.code, 0, report.final.stderr);
  assert.equal(report.load.produced, 3000);
  assert.deepEqual(report.exitedBeforeKill, []);
  const counts = report.verdict.streams.map((s) => `${s.stream}: ${s.got}/${s.reference} lost ${s.lost} dup ${s.duplicated} foreign ${s.foreign}`);
  assert.deepEqual({ lost: report.verdict.lost, duplicated: report.verdict.duplicated, foreign: report.verdict.foreign }, { lost: 0, duplicated: 0, foreign: 0 }, counts.join('\n'));
  assert.deepEqual(report.verdict.exactStreams, report.verdict.streams.map((s) => s.stream), counts.join('\n'));
  assert.ok((report.verdict.streams.find((s) => s.stream === 'events')?.reference ?? 0) > 2900);
});
