/**
 * `topK` under sliding windows past `capacity`: exact, from the window's exact counts (entries
 * counted in on arrival, out on eviction) — checked against counts made here, through the CLI
 * with a restart from its LMDB state mid-stream, from states stored before the change, and
 * against the running windows' incremental moves and inserts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { LmdbStoreFactory } from '../../lib/state/engines/lmdb/env.js';
import { recordingContext } from '../../lib/testing/context.js';
import { fold, initial, resolveAggregate, valueOf, type Acc } from '../../operators/aggregates/accumulators.js';
import { buildRunning, cloneRunning, insertIntoRunning, moveRunning, upperBound, type EntryList } from '../../operators/aggregates/sliding.js';
import type { TopState } from '../../operators/aggregates/space-saving.js';
import { flatten, type Chunk } from '../../operators/window-aggregate/chunks.js';
import { WindowAggregateLogic, windowAggregateOperator, type AggregateRecord, type SlidingState } from '../../operators/window-aggregate.js';
import { tributary } from '../support/cli.js';
import { ev, MIN } from '../support/events.js';
import { rng } from '../support/random.js';
import { tempDir } from '../support/tmp.js';

type Top = Array<{ value: unknown; count: number }>;

/** The top k of `values` counted here: count descending, then JSON text ascending. */
function topOf(values: readonly string[], k: number): Top {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .map(([v, n]) => [JSON.stringify(v), n] as const)
    .sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0))
    .slice(0, k)
    .map(([v, count]) => ({ value: JSON.parse(v) as unknown, count }));
}

const T0 = 1_767_225_600_000;
const SIZE = 10 * MIN;
// One key, one event a minute (minute, sku); 6 skus, 4–6 in every 10-minute window (capacity
// 3); the leaders change as entries leave. Minutes 17, 28 and 35 arrive 2–3 minutes late
// (within the source's allowedLateness of 5m).
const STREAM: Array<[number, string]> = [
  ...'aabacadaeafbbbcb'.split('').map((v, m): [number, string] => [m, v]),
  [18, 'd'], [17, 'b'], [19, 'e'], [20, 'c'], [21, 'c'], [22, 'f'], [23, 'c'], [24, 'd'], [25, 'c'],
  [26, 'e'], [27, 'd'], [29, 'd'], [30, 'f'], [28, 'a'], [31, 'd'], [32, 'e'], [33, 'f'], [34, 'e'],
  [36, 'f'], [37, 'e'], [35, 'b'], [38, 'a'], [39, 'f'], [40, 'e'],
];

/** Window (t − 10m, t] over every event: the final record of the event at minute `m`. */
const finalTop = (m: number) => topOf(STREAM.filter(([u]) => u > m - 10 && u <= m).map(([, v]) => v), 3);
/** The annotation of the `n`th event: its window over the events arrived so far. */
const annotationTop = (n: number) => {
  const m = (STREAM[n] as [number, string])[0];
  return topOf(STREAM.slice(0, n + 1).filter(([u]) => u > m - 10 && u <= m).map(([, v]) => v), 3);
};

const PIPELINE =
  'name: topk-sliding\nsource: { key: anonymousId, allowedLateness: 5m }\nsteps:\n' +
  '  - windowAggregate: { key: anonymousId, window: { sliding: 10m }, annotate: features, output: aggregates, aggregates: { top: { topK: { path: properties.sku, k: 3, capacity: 3 } } } }\n';

const line = ([m, v]: [number, string], n: number) =>
  JSON.stringify({ messageId: `m${n}`, type: 'track', event: 'product_viewed', userId: null, anonymousId: 'a1', timestamp: T0 + m * MIN, properties: { sku: v } });

const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('topK sliding past capacity through the CLI: exact records and annotations, also stopped mid-stream and continued from its LMDB state', () => {
  const dir = tempDir('tributary-topk-sliding-');
  const pipeline = join(dir, 'p.yaml');
  writeFileSync(pipeline, PIPELINE);
  const all = join(dir, 'all.ndjson');
  writeFileSync(all, STREAM.map(line).join('\n') + '\n');
  const cut = 21; // after minute 25: 9 windows pending, 4–5 values in each
  const part1 = join(dir, 'part1.ndjson');
  const part2 = join(dir, 'part2.ndjson');
  writeFileSync(part1, STREAM.slice(0, cut).map(line).join('\n') + '\n');
  writeFileSync(part2, STREAM.slice(cut).map((e, n) => line(e, cut + n)).join('\n') + '\n');

  const wantRecords = [...STREAM].sort((p, q) => p[0] - q[0]).map(([m]) => [T0 + m * MIN, finalTop(m)]);
  const overCapacity = STREAM.filter(([m]) => new Set(STREAM.filter(([u]) => u > m - 10 && u <= m).map(([, v]) => v)).size > 3).length;
  assert.ok(overCapacity >= 30, `${overCapacity} windows over capacity`);
  const wantAnnotations = STREAM.map((_, n) => annotationTop(n));
  const records = (...outs: string[]) =>
    outs
      .flatMap((o) => readLines(join(o, 'aggregates.ndjson')))
      .map((r) => [r.windowEnd, (r.values as { top: Top }).top])
      .sort((p, q) => (p[0] as number) - (q[0] as number));
  const annotations = (...outs: string[]) => outs.flatMap((o) => readLines(join(o, 'events.ndjson'))).map((e) => (e.features as { top: Top }).top);

  const one = tributary(['run', pipeline, '--input', all, '--out-dir', join(dir, 'one'), '--quiet']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(records(join(dir, 'one')), wantRecords, 'one run: records');
  assert.deepEqual(annotations(join(dir, 'one')), wantAnnotations, 'one run: annotations');

  const state = join(dir, 'state');
  const r1 = tributary(['run', pipeline, '--input', part1, '--out-dir', join(dir, 'r1'), '--state-dir', state, '--quiet']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /state left open in .* \(not final\)/);
  const pending = wantRecords.length - records(join(dir, 'r1')).length;
  assert.ok(pending >= 5, `${pending} windows still open at the cut`);
  const r2 = tributary(['run', pipeline, '--input', part2, '--out-dir', join(dir, 'r2'), '--state-dir', state, '--final', '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /continued from the state a previous run left open/);
  assert.deepEqual(records(join(dir, 'r1'), join(dir, 'r2')), wantRecords, 'two runs: records');
  assert.deepEqual(annotations(join(dir, 'r1'), join(dir, 'r2')), wantAnnotations, 'two runs: annotations');
});

test('topK sliding: windows stored by the previous version (a Space-Saving fold of the window, or every counter), reopened from LMDB, go on exact', async () => {
  const STEP = 'wa';
  const config = windowAggregateOperator.resolve({
    key: 'anonymousId',
    window: { sliding: '10m' },
    annotate: 'features',
    emit: 'update',
    output: 'aggregates',
    aggregates: { n: { count: {} }, top: { topK: { path: 'properties.sku', k: 3, capacity: 3 } } },
  });
  const a = config.aggregates[1] as Parameters<typeof fold>[0];
  const events: TributaryEvent[] = STREAM.map(([m, v], n) => ev(`m${n}`, T0 + m * MIN, { properties: { sku: v } }));
  const dir = mkdtempSync(join(tmpdir(), 'wa-topk-'));
  try {
    const runPart = (logic: WindowAggregateLogic, from: number, to: number) => {
      let max = -Infinity;
      for (const e of events.slice(0, from)) max = Math.max(max, e.timestamp);
      const passed: unknown[] = [];
      for (const e of events.slice(from, to)) {
        passed.push((logic.process(e, 'a1') as unknown as { features: { top: Top } }).features.top);
        max = Math.max(max, e.timestamp);
        logic.advance(max - 5 * MIN);
      }
      return passed;
    };
    const cut = 21;
    let stores = new LmdbStoreFactory({ path: dir });
    const first = recordingContext(STEP, stores);
    const before = new WindowAggregateLogic(config, first);
    runPart(before, 0, cut);
    // Write the running windows into the value, with their topK states as the previous version
    // kept them: the left fold of the window.
    const entries = stores.open<string, SlidingState>(`${STEP}.entries`);
    const stored = entries.get('a1') as SlidingState;
    const kept = before.runningOf('a1');
    assert.ok(kept?.f && kept.h, 'the logic keeps both running windows of a1');
    stored.f = cloneRunning(kept.f);
    stored.h = cloneRunning(kept.h);
    const chunks = stores.open<readonly [string, number], Chunk>(`${STEP}.chunks`);
    const c = flatten(stored, (start) => chunks.get(['a1', start]) as Chunk);
    const forms = new Set<string>();
    for (const run of [stored.f, stored.h]) {
      if (!run) continue;
      let acc: Acc = initial(a);
      for (let j = upperBound(c.ts, run.t - SIZE); j < upperBound(c.ts, run.t); j++) {
        for (const [i, v] of c.cs[j] as Array<[number, unknown]>) if (i === 1) acc = fold(a, acc, c.ts[j] as number, v);
      }
      forms.add((acc as TopState).o === 1 ? 'summary' : 'every counter');
      run.acc[1] = acc;
    }
    assert.ok(forms.has('summary'), 'a window over capacity was stored as a Space-Saving summary');
    entries.put('a1', stored, { expiresAt: stored.until });
    await stores.flush();
    await stores.close();

    stores = new LmdbStoreFactory({ path: dir });
    const second = recordingContext(STEP, stores);
    const logic = new WindowAggregateLogic(config, second);
    const passed = runPart(logic, cut, events.length);
    logic.advance(Infinity);
    await stores.close();
    assert.deepEqual(passed, STREAM.slice(cut).map((_, n) => annotationTop(cut + n)), 'annotations after the restart');
    const finals = second.emitted.map((e) => e.record as AggregateRecord).filter((r) => r.final);
    assert.ok(finals.length >= 20);
    for (const r of finals) assert.deepEqual(r.values.top, finalTop((r.windowEnd - T0) / MIN), `final record at ${(r.windowEnd - T0) / MIN}m`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('topK sliding: running windows moved and inserted into, for k 1 to 7 over 3 to 40 values or increasing ids, equal the exact top k at every step', () => {
  const rand = rng(17);
  for (const k of [1, 2, 4, 7]) {
    for (const values of [3, 9, 40, 0]) {
      const a = resolveAggregate('top', { topK: { path: 'v', k, capacity: k } });
      // Skewed values with many ties (0: increasing ids, mostly once, the oldest leaving first); times with gaps and repeats.
      const value = (j: number) => (values === 0 ? `id${String(j - Math.floor(rand() * rand() * 4)).padStart(4, '0')}` : `v${Math.floor(rand() * rand() * values)}`);
      const list: EntryList = { ts: [], cs: [] };
      for (let j = 0, t = 0; j < 600; j++, t += Math.floor(rand() * 3)) {
        list.ts.push(t);
        list.cs.push([[0, JSON.stringify(value(j))]]);
      }
      const size = 5 + Math.floor(rand() * 40);
      const exact = (t: number) => topOf(list.cs.filter((_, j) => (list.ts[j] as number) > t - size && (list.ts[j] as number) <= t).map((c) => JSON.parse(c[0]?.[1] as string) as string), k);
      const run = buildRunning([a], list, size, list.ts[0] as number);
      for (let t = run.t + 1; t <= (list.ts[list.ts.length - 1] as number); t += 1 + Math.floor(rand() * 3)) {
        moveRunning([a], list, size, run, t);
        assert.deepEqual(valueOf(a, run.acc[0] as Acc, t), exact(t), `k ${k}, ${values || 'increasing'} values, t ${t}`);
        // An entry arriving inside the window, before its last entry.
        if (rand() < 0.2 && upperBound(list.ts, t) - upperBound(list.ts, t - size) > 1) {
          const at = t - Math.floor(rand() * Math.min(size - 1, 4));
          const j = upperBound(list.ts, at);
          list.ts.splice(j, 0, at);
          list.cs.splice(j, 0, [[0, JSON.stringify(values === 0 ? value(j) : `v${Math.floor(rand() * values)}`)]]);
          insertIntoRunning([a], list, size, run, j);
          assert.deepEqual(valueOf(a, run.acc[0] as Acc, t), exact(t), `k ${k}, ${values} values, t ${t}, insert at ${at}`);
        }
        assert.deepEqual(run.acc, buildRunning([a], list, size, t).acc, `k ${k}, ${values} values, t ${t}: the state built from scratch`);
      }
    }
  }
});
