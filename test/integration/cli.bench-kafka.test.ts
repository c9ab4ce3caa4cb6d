// `tributary bench --brokers`, run as a user runs it against the real broker: the pipeline, its
// runner floor and the hand-written kafkajs dedupe each read every generated event from the
// invocation's own source topic, every record accounted for; the pipeline's dedupe and the
// hand-written one pass and drop the same records (and find the copies the embedded benchmark
// finds in the same events); every topic the invocation made is gone afterwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tributary } from '../support/cli.js';
import { kafkaBrokers, skipReason } from '../support/kafka.js';
import { testAdapter } from '../support/kafka-pipeline.js';
import { tempDir } from '../support/tmp.js';

const skip = kafkaBrokers() ? false : skipReason();

interface Report {
  cases: Array<{ kind: string; events: number; counts: Record<string, number>; runs: unknown[]; cpuMicrosPerEvent: { median: number } }>;
}

test('bench --brokers: pipeline, floor and kafkajs baseline over the same topic, the embedded counts, no topic left', { skip, timeout: 300_000 }, async () => {
  const dir = tempDir();
  const common = ['bench', '--events', '6000', '--repeat', '1', '--seed', '4'];
  const k = tributary([...common, '--brokers', (kafkaBrokers() ?? []).join(','), '--partitions', '2', '--json', join(dir, 'kafka.json')]);
  assert.equal(k.code, 0, k.stderr);
  const e = tributary([...common, '--json', join(dir, 'embedded.json')]);
  assert.equal(e.code, 0, e.stderr);
  const kafka = JSON.parse(readFileSync(join(dir, 'kafka.json'), 'utf8')) as Report;
  const embedded = JSON.parse(readFileSync(join(dir, 'embedded.json'), 'utf8')) as Report;

  assert.deepEqual(kafka.cases.map((c) => [c.kind, c.events, c.runs.length]), [['pipeline', 6000, 1], ['floor', 6000, 1], ['baseline', 6000, 1]]);
  assert.match(k.stdout, /through Kafka at .* \(a source topic of 2 partitions\)/);
  assert.match(k.stdout, /\| hand-written dedupe, for scale: kafkajs, Map state \| 6,000 \|/);
  const counts = (r: Report, kind: string) => r.cases.find((c) => c.kind === kind)?.counts ?? {};
  const [pipeline, floor, baseline] = ['pipeline', 'floor', 'baseline'].map((kind) => counts(kafka, kind)) as [Record<string, number>, Record<string, number>, Record<string, number>];
  // Every record accounted for; the same source rules (per-partition watermarks) in all three.
  assert.equal((floor.events ?? 0) + (floor.late ?? 0) + (floor['dead-letter'] ?? 0), 6000);
  assert.equal(Object.values(baseline).reduce((a, n) => a + n, 0), 6000);
  assert.deepEqual([pipeline.late, pipeline['dead-letter'], baseline.late, baseline['dead-letter']], [floor.late, floor['dead-letter'], floor.late, floor['dead-letter']]);
  // The pipeline's dedupe and the hand-written one agree: what passed, and what was dropped as a copy.
  assert.equal(pipeline.events, baseline.events);
  assert.equal((floor.events ?? 0) - (pipeline.events ?? 0), baseline.duplicates);
  assert.ok((baseline.duplicates ?? 0) > 0, JSON.stringify(baseline));
  // Embedded over the same events: the same number of copies found (lateness aside, one watermark there).
  assert.equal(baseline.duplicates, counts(embedded, 'baseline').duplicates);
  for (const c of kafka.cases) assert.ok(c.cpuMicrosPerEvent.median > 0);

  const runId = /deleted the (\d+) topics of this benchmark \((bench-[\w-]+)-\*\)/.exec(k.stderr);
  assert.ok(runId, k.stderr);
  assert.ok(Number(runId[1]) >= 3 + 4, k.stderr); // the source, the runs' outputs and internal topics, the baseline's four
  const admin = await testAdapter().admin();
  try {
    assert.deepEqual((await admin.listTopics()).filter((t) => t.includes(runId[2] as string)), []);
  } finally {
    await admin.disconnect();
  }
});
