// `tributary bench` as a user runs it: the five cases over the generated events, the JSON table
// (counts exact; speed never asserted, only that CPU and RSS were measured), and its errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { histogramQuantile, type BenchRunResult } from '../../lib/bench/child.js';
import type { CaseReport } from '../../lib/cli/bench.js';
import { BIN, ROOT, tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

test('bench: the bundled pipeline, the runner floor, its input and outputs alone and both dedupe baselines over 2000 events; --json', () => {
  const dir = tempDir();
  const json = join(dir, 'bench.json');
  const r = tributary(['bench', '--events', '2000', '--repeat', '1', '--json', json]);
  assert.equal(r.code, 0, r.stderr);

  const lines = r.stdout.split('\n');
  assert.equal(lines[0], `command: tributary bench --events 2000 --repeat 1 --seed 1 --json ${json}`);
  assert.match(lines[1] as string, /^machine: \d+ cores \(.*\), \d+ GiB, node v\d+\.\d+\.\d+ \(\w+ \w+\)$/);
  const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| case'));
  assert.deepEqual(rows.map((l) => l.split(' | ')[0]), [
    '| pipeline examples/cart-abandonment/pipeline.yaml (bundled): embedded runner, LMDB state, files out',
    '| runner floor: the same source, no steps',
    "| its input and outputs alone: the input parsed, the pipeline's outputs written with their record ids; no steps, no state",
    '| hand-written dedupe, for scale: Map state',
    '| hand-written dedupe, for scale: lmdb-js state',
  ]);
  for (const row of rows) assert.equal(row.split(' | ')[1], '2,000');

  const written = JSON.parse(readFileSync(json, 'utf8')) as { events: number; repeat: number; cases: CaseReport[] };
  assert.deepEqual([written.events, written.repeat, written.cases.map((c) => c.kind)], [2000, 1, ['pipeline', 'floor', 'io', 'baseline', 'baseline']]);
  for (const c of written.cases) {
    assert.equal(c.events, 2000, c.name);
    assert.equal(c.runs.length, 1);
    const run = c.runs[0] as BenchRunResult;
    assert.equal(run.events, 2000);
    assert.ok(run.cpu > 0 && c.cpuMicrosPerEvent.median > 0, `${c.name}: CPU measured`);
    assert.ok(run.peakRss > 10 * 2 ** 20 && c.peakRssBytes.median === run.peakRss, `${c.name}: peak RSS measured`);
    if (c.kind === 'io') assert.deepEqual([c.latencyP50Micros.median, c.latencyMethod], [null, 'none: no step runs'], 'no steps, no processing latency (NaN, null in JSON)');
    else assert.ok(c.latencyP50Micros.median > 0 && c.latencyP99Micros.median >= c.latencyP50Micros.median, `${c.name}: latency`);
    // Every input record ends up in exactly one place, so the outputs of a step-less run add up.
    if (c.kind === 'floor') assert.equal((run.counts?.events ?? 0) + (run.counts?.late ?? 0) + (run.counts?.['dead-letter'] ?? 0), 2000);
  }
  // The io case writes again exactly what the pipeline wrote.
  const [pipeline, io] = [written.cases[0], written.cases.find((c) => c.kind === 'io')];
  assert.deepEqual(io?.counts, pipeline?.counts);
  assert.ok(rows[2]?.includes(' | – | – | '), rows[2]);
  // Both baselines apply the same rules to the same input: the same counts.
  const [map, lmdb] = written.cases.filter((c) => c.kind === 'baseline');
  assert.deepEqual(map?.counts, lmdb?.counts);
  assert.equal(Object.values(map?.counts ?? {}).reduce((a, b) => a + b, 0), 2000);
  assert.match(r.stderr, /^\[1\/1\] pipeline /);
});

test('bench: a bad pipeline, --events 0 or no --events exit 2 without running anything', () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'name: bad\nsource: { key: [userId] }\nsteps:\n  - nosuchstep: {}\n');
  const r = tributary(['bench', bad, '--events', '100', '--repeat', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid pipeline definition/);
  assert.equal(r.stdout, '');
  const zero = tributary(['bench', '--events', '0']);
  assert.deepEqual([zero.code, zero.stdout], [2, '']);
  assert.match(zero.stderr, /--events must be a whole number ≥ 1, got "0"/);
  assert.equal(tributary(['bench']).code, 2);
  assert.equal(tributary(['bench', '--events', '10', '--repeat', 'x']).code, 2);
});

test('bench: latency quantiles interpolate linearly within the histogram bucket they fall in', () => {
  const buckets: Array<[number, number]> = [[0.001, 0], [0.002, 10], [0.004, 20], [Infinity, 20]];
  assert.equal(histogramQuantile(0.5, buckets), 0.002);
  assert.equal(histogramQuantile(0.25, buckets), 0.0015);
  assert.equal(histogramQuantile(0.75, buckets), 0.003);
  assert.equal(histogramQuantile(0.5, [[0.001, 0], [Infinity, 0]]), 0);
  assert.equal(histogramQuantile(0.99, [[0.001, 1], [Infinity, 10]]), 0.001, 'beyond the last bound: the bound');
});

test('bench: a definition from a pipe (read once, then used for every case)', () => {
  // bash's process substitution: the definition arrives on a pipe (/dev/fd/N), readable once.
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" bench <(cat examples/rees46-dedupe/pipeline.yaml) --events 200 --repeat 1`], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| case'));
  assert.deepEqual(rows.map((l) => l.split(' | ').slice(1, 2)), [['200'], ['200'], ['200'], ['200'], ['200']]);
  assert.match(rows[0] as string, /^\| pipeline \/dev\/fd\/\d+: embedded runner/);
  assert.match(rows[2] as string, /^\| its input and outputs alone/);
});
