// State that survives bounded runs (Kafka, memory broker): a bounded run that is not final stops
// at the end offsets without moving any watermark to +∞ (source tasks report `paused`, downstream
// tasks end at their upstream tasks' watermarks), so its committed and change-logged state goes
// on in the next run: a bounded run over the first half, then one over the second half produced
// later, gives the records of one embedded run over both, also when every task's local state was
// deleted in between and restored from the changelogs (before, the restore replayed the
// expiries of the end of input and deleted every dedupe key: 98 of 100 re-sent messages came out
// as new).
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { boundedRunToken, markerValue, parseMarker, upstreamWatermark, type UpstreamState } from '../../../lib/runtime/kafka/kafka-task.js';
import { runKafka, TASK_HEADER, WATERMARK_HEADER } from '../../../lib/runtime/kafka/runner.js';
import { produceEvents, testEvents } from '../../support/kafka-pipeline.js';
import { dedupeFirstHalf } from '../../support/dedupe-halves.js';
import { caughtUp, diffWithEmbedded, exact, memoryScenario, recordingSends, summarize, waitFor } from '../../support/memory-kafka.js';

test('dedupe: a bounded run (not final), every task\'s state deleted, a bounded run over the second half: the restored keys catch every re-send', async () => {
  const { s, app, stateDir, second, resent, produceSecond } = await dedupeFirstHalf(21);

  for (const task of readdirSync(join(stateDir, app))) rmSync(join(stateDir, app, task), { recursive: true, force: true });
  await produceSecond();
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run2.records, second.length);
  assert.ok(run2.restored.length >= 3 && run2.restored.every((r) => r.reason === 'missing'), JSON.stringify(run2.restored));
  assert.ok((s.embedded.streams.duplicates ?? 0) >= resent, `${resent} re-sends are duplicates in the reference`);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('cart-abandonment (3 sub-topologies): bounded over the first half, then bounded (final) over the second half = one embedded run; the first run ends with paused markers, no end', async () => {
  const events = testEvents(1500, 23);
  const first = events.slice(0, 750);
  const second = events.slice(750);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: first, partitions: 3 });
  const stateDir = join(s.dir, 'state');
  const rec = recordingSends(s.kafka.adapter('run1'));
  const run1 = await runKafka({ topology: s.p.topology, adapter: rec.adapter, stateDir, bounded: true, tickMs: 20 });
  assert.equal(run1.interrupted, false, 'every task ended');
  assert.equal(run1.records, first.length);
  const marks = rec.sent.filter((r) => r.value === null).map((r) => r.headers?.[WATERMARK_HEADER]?.toString() ?? '');
  assert.ok(marks.some((m) => m.startsWith('paused:')), 'paused markers');
  assert.equal(marks.filter((m) => m === 'end').length, 0, 'no end marker');
  // Paused markers from every upstream task reached every downstream partition.
  const paused = (topic: string) => [...new Set(rec.sent
    .filter((r) => r.topic === topic && r.headers?.[WATERMARK_HEADER]?.toString().startsWith('paused:'))
    .map((r) => `${r.partition} from ${r.headers?.[TASK_HEADER]?.toString()}`))].sort();
  const [, identity, personal] = s.p.topology.subTopologies;
  assert.deepEqual(paused(identity!.input), ['0 from 0_0', '0 from 0_1', '0 from 0_2']);
  assert.deepEqual(paused(personal!.input), ['0 from 1_0', '1 from 1_0', '2 from 1_0']);
  const sessions1 = s.kafka.broker.records(s.p.topics.sessions!).length;
  assert.ok(sessions1 < (s.embedded.streams.sessions ?? 0), 'sessions still open after the first run');

  await produceEvents(s.kafka.adapter('setup'), s.p.source, second, s.p.topology.source.key, s.partitionOf);
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run2.interrupted, false);
  assert.equal(run2.records, second.length);
  assert.equal(run2.late, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('cart-abandonment: bounded, bounded, then a bounded --final run with no new input closes what is open = one embedded run', async () => {
  const events = testEvents(1200, 29);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: events.slice(0, 600), partitions: 3 });
  const stateDir = join(s.dir, 'state');
  await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, bounded: true, tickMs: 20 });
  await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(600), s.p.topology.source.key, s.partitionOf);
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, tickMs: 20 });
  assert.equal(run2.records, 600);
  const after2 = summarize(await diffWithEmbedded(s));
  assert.deepEqual(after2.find((d) => d.stream === 'events'), exact(s).find((d) => d.stream === 'events'), 'every event through after the second run');
  const open = after2.find((d) => d.stream === 'sessions')!;
  assert.ok(open.missing > 0, 'sessions still open after the second run');
  const run3 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run3'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run3.interrupted, false);
  assert.equal(run3.records, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('cart-abandonment: bounded over the first half, then a live run over the second half, then a final bounded run = one embedded run', async (t) => {
  const events = testEvents(1200, 31);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: events.slice(0, 600), partitions: 3 });
  const stateDir = join(s.dir, 'state');
  await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, bounded: true, tickMs: 20 });
  await produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(600), s.p.topology.source.key, s.partitionOf);
  const stop = new AbortController();
  t.after(() => stop.abort());
  const live = runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('live'), stateDir, signal: stop.signal, tickMs: 20 });
  await waitFor('the live run to pass every event to the sink', () => s.kafka.broker.records(s.p.topics.events!).length >= (s.embedded.streams.events ?? 0));
  await waitFor('the live run to commit the source', () => caughtUp(s.kafka, s.p.topology.name, s.p.source));
  stop.abort();
  const run2 = await live;
  assert.equal(run2.records, 600);
  assert.equal(run2.late, 0);
  const run3 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run3'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run3.records, 0);
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('records produced while a bounded run goes are left to the next run: neither processed nor committed past the end offsets at start', async () => {
  const events = testEvents(1200, 37);
  const s = await memoryScenario('examples/cart-abandonment/pipeline.yaml', { events, produce: events.slice(0, 600), partitions: 3 });
  const stateDir = join(s.dir, 'state');
  let producing: Promise<void> | undefined;
  const run1 = await runKafka({
    topology: s.p.topology, adapter: s.kafka.adapter('run1'), stateDir, bounded: true, tickMs: 20,
    onReady: () => { producing = produceEvents(s.kafka.adapter('setup'), s.p.source, events.slice(600), s.p.topology.source.key, s.partitionOf); },
  });
  await producing;
  assert.equal(run1.records, 600, 'the end offsets at start');
  const run2 = await runKafka({ topology: s.p.topology, adapter: s.kafka.adapter('run2'), stateDir, bounded: true, final: true, tickMs: 20 });
  assert.equal(run2.records, 600, 'what was produced during run 1');
  assert.deepEqual(summarize(await diffWithEmbedded(s)), exact(s));
});

test('markers: paused carries the watermark and the bounded run; an end or paused of another kind of run is not an end here', () => {
  const token = boundedRunToken(new Map([[1, 40n], [0, 35n]]));
  assert.equal(token, '0=35,1=40');
  assert.equal(markerValue('paused', 1234, token), 'paused:1234:0=35,1=40');
  assert.equal(markerValue(99, 0, token), '99');
  assert.equal(markerValue('end', 0, token), 'end');
  const bounded = { token, final: false };
  const final = { token, final: true };
  assert.deepEqual(parseMarker('paused:1234:0=35,1=40', bounded), { state: 'paused', numeric: 1234 });
  assert.deepEqual(parseMarker('paused:1234:0=30,1=40', bounded), { state: 1234, numeric: 1234 }, 'an earlier run\'s');
  assert.deepEqual(parseMarker('paused:1234:0=35,1=40', final), { state: 1234, numeric: 1234 }, 'a final run (same offsets: nothing new)');
  assert.deepEqual(parseMarker('paused:1234:0=35,1=40', undefined), { state: 1234, numeric: 1234 }, 'a live run');
  assert.deepEqual(parseMarker('end', final), { state: 'end' });
  assert.equal(parseMarker('end', bounded), undefined, 'an earlier final run\'s end');
  assert.equal(parseMarker('end', undefined), undefined, 'a live run never ends');
  assert.deepEqual(parseMarker('idle', undefined), { state: 'idle' });
  assert.deepEqual(parseMarker('-Infinity', bounded), { state: -Infinity, numeric: -Infinity });

  const up = (entries: Array<[string, UpstreamState]>) => new Map(entries);
  const numeric = new Map([['a', 100], ['b', 300]]);
  assert.equal(upstreamWatermark(up([['a', 'end'], ['b', 'end']])), 'end');
  assert.deepEqual(upstreamWatermark(up([['a', 'paused'], ['b', 'paused']]), numeric), { paused: 100 });
  assert.deepEqual(upstreamWatermark(up([['a', 'paused'], ['b', 'end']]), numeric), { paused: 100 });
  assert.equal(upstreamWatermark(up([['a', 'paused'], ['b', 200]]), numeric), 100, 'a paused task holds the watermark at where it stopped');
  assert.equal(upstreamWatermark(up([['a', 'end'], ['b', 200]]), numeric), 200);
  assert.equal(upstreamWatermark(up([['a', 'idle'], ['b', 200]]), numeric), 200);
  assert.equal(upstreamWatermark(up([['a', 'paused'], ['c', 'paused'], ['b', 200]]), numeric), 100, 'c paused without an event: holds nothing back');
  assert.deepEqual(upstreamWatermark(up([['c', 'paused']]), numeric), { paused: Infinity }, 'nothing seen anywhere: no watermark to go to');
});
