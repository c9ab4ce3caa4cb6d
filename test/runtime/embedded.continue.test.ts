// State that survives bounded runs (embedded): with an explicit state directory the end of a
// file does not close anything (no watermark +∞), so a second file run with the same state
// directory goes on from the first's keys, watermark, open sessions and pending timers. Runs over
// A then B equal one run over A+B, stream by stream as multisets; a final run (B with
// `final: true`, or an empty input with `final: true`) closes what is open as the one run's end
// of input does.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TributaryEvent } from '../../lib/event/event.js';
import { generateEvents } from '../../lib/generate/index.js';
import { compilePipeline, type Topology } from '../../lib/pipeline/compile.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { startOf, type Checkpoint } from '../../lib/runtime/continuation.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { defaultRegistry } from '../../operators/index.js';
import { ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';
import { streamMultisets } from '../support/outputs.js';

const DEDUPE = 'name: dedupe-continue\nsource:\n  key: [anonymousId, userId]\n  allowedLateness: 30d\nsteps:\n  - dedupe: { ttl: 30d, output: duplicates }\n';

function topologyOf(file: string): Topology {
  return compilePipeline(loadPipelineFile(file, defaultRegistry), defaultRegistry);
}

/** A+B: generated events split in two, B re-sending every 50th message of A (same messageId) spread through it. */
export function splitWithResends(n: number, seed: number): { a: TributaryEvent[]; b: TributaryEvent[]; resent: number } {
  const events = [...generateEvents({ events: n, seed, lateRate: 0, maxDisorderMs: 20_000 })] as TributaryEvent[];
  const a = events.slice(0, n / 2);
  const resends = a.filter((_e, i) => i % 50 === 7);
  const resent = resends.length;
  const b: TributaryEvent[] = [];
  events.slice(n / 2).forEach((e, i) => {
    b.push(e);
    if (i % 20 === 0 && resends.length > 0) b.push(resends.shift()!);
  });
  b.push(...resends);
  return { a, b, resent };
}

const ndjson = (events: TributaryEvent[]) => events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : '');

const streams = streamMultisets;

function setup(pipeline: string, n: number, seed: number) {
  const dir = tempDir('tributary-continue-');
  const file = pipeline.endsWith('.yaml') ? join(ROOT, pipeline) : join(dir, 'p.yaml');
  if (!pipeline.endsWith('.yaml')) writeFileSync(file, pipeline);
  const topology = topologyOf(file);
  const { a, b, resent } = splitWithResends(n, seed);
  const files = { ab: join(dir, 'ab.ndjson'), a: join(dir, 'a.ndjson'), b: join(dir, 'b.ndjson'), empty: join(dir, 'empty.ndjson') };
  writeFileSync(files.ab, ndjson([...a, ...b]));
  writeFileSync(files.a, ndjson(a));
  writeFileSync(files.b, ndjson(b));
  writeFileSync(files.empty, '');
  return { dir, topology, files, resent };
}

test('dedupe: A then B with one --state-dir equals one run over A+B; B\'s re-sends of A\'s messages are caught', async () => {
  const { dir, topology, files, resent } = setup(DEDUPE, 6000, 5);
  const one = await runEmbedded({ topology, input: files.ab, outDir: join(dir, 'one') });
  assert.equal(one.final, true, 'no --state-dir: final by default');
  const state = join(dir, 'state');
  const ra = await runEmbedded({ topology, input: files.a, outDir: join(dir, 'a'), stateDir: state });
  assert.equal(ra.final, false, 'an explicit state directory: not final by default');
  const rb = await runEmbedded({ topology, input: files.b, outDir: join(dir, 'b'), stateDir: state });
  assert.equal(rb.continued, true);
  assert.equal(rb.resumedFrom, 0);
  assert.deepEqual(streams(join(dir, 'a'), join(dir, 'b')), streams(join(dir, 'one')));
  // Every re-send in B is a duplicate of a message of A (and B's own duplicates, as in the one run).
  const dupIds = new Set(streams(join(dir, 'b')).duplicates!.map((l) => (JSON.parse(l) as TributaryEvent).messageId));
  const aIds = new Set(readFileSync(files.a, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as TributaryEvent).messageId));
  assert.ok([...dupIds].filter((id) => aIds.has(id)).length >= resent, `${resent} re-sends caught in B`);
  assert.equal(rb.streams.late, 0);

  // What the bug did: a final A forgets every key, and B lets the re-sends through.
  const fa = await runEmbedded({ topology, input: files.a, outDir: join(dir, 'fa'), stateDir: join(dir, 'state-final'), final: true });
  assert.equal(fa.final, true);
  const fb = await runEmbedded({ topology, input: files.b, outDir: join(dir, 'fb'), stateDir: join(dir, 'state-final') });
  assert.equal(fb.continued, false);
  assert.ok((fb.streams.duplicates ?? 0) <= (rb.streams.duplicates ?? 0) - resent, `after a final run the keys are gone: ${fb.streams.duplicates} vs ${rb.streams.duplicates}`);
});

test('cart-abandonment: A then B (final) equals one run over A+B; A, B, then an empty final run too', async () => {
  const { dir, topology, files } = setup('examples/cart-abandonment/pipeline.yaml', 8000, 7);
  await runEmbedded({ topology, input: files.ab, outDir: join(dir, 'one') });
  const reference = streams(join(dir, 'one'));
  assert.ok((reference.sessions?.length ?? 0) > 100 && (reference['campaign-triggers']?.length ?? 0) > 10, 'sessions and triggers to compare');

  // A then B with --final on B.
  const s1 = join(dir, 'state-1');
  const ra = await runEmbedded({ topology, input: files.a, outDir: join(dir, '1a'), stateDir: s1 });
  const rb = await runEmbedded({ topology, input: files.b, outDir: join(dir, '1b'), stateDir: s1, final: true });
  assert.equal(ra.final, false);
  assert.equal(rb.final, true);
  assert.deepEqual(streams(join(dir, '1a'), join(dir, '1b')), reference);

  // A, B (neither final), then an empty input with final: the sessions and carts still open at
  // the end of B close in the last run, as they do at the one run's end of input.
  const s2 = join(dir, 'state-2');
  await runEmbedded({ topology, input: files.a, outDir: join(dir, '2a'), stateDir: s2 });
  await runEmbedded({ topology, input: files.b, outDir: join(dir, '2b'), stateDir: s2 });
  const open = streams(join(dir, '2a'), join(dir, '2b'));
  assert.ok(open.sessions!.length < reference.sessions!.length, 'sessions still open after B');
  const closing = await runEmbedded({ topology, input: files.empty, outDir: join(dir, '2c'), stateDir: s2, final: true });
  assert.equal(closing.records, 0);
  assert.equal(closing.streams.sessions, reference.sessions!.length - open.sessions!.length);
  assert.deepEqual(streams(join(dir, '2a'), join(dir, '2b'), join(dir, '2c')), reference);
});

test('crash-resume of B after a continued start: same outputs as an uninterrupted B', async () => {
  const { dir, topology, files } = setup(DEDUPE, 6000, 9);
  const state = join(dir, 'state');
  await runEmbedded({ topology, input: files.a, outDir: join(dir, 'a'), stateDir: state });
  // B, stopped after its first checkpoints.
  const abort = new AbortController();
  const stopped = await runEmbedded({
    topology, input: files.b, outDir: join(dir, 'b'), stateDir: state, checkpointEvery: 500, progressEveryMs: 0, signal: abort.signal,
    onProgress: (p) => { if (p.records >= 1500) abort.abort(); },
  });
  assert.equal(stopped.interrupted, true);
  assert.equal(stopped.continued, true);
  const resumed = await runEmbedded({ topology, input: files.b, outDir: join(dir, 'b'), stateDir: state, final: true });
  assert.ok(resumed.resumedFrom >= 1500, `resumed after ${resumed.resumedFrom}`);
  assert.equal(resumed.continued, false);

  await runEmbedded({ topology, input: files.ab, outDir: join(dir, 'one') });
  assert.deepEqual(streams(join(dir, 'a'), join(dir, 'b')), streams(join(dir, 'one')));
  assert.ok(existsSync(join(dir, 'b', 'duplicates.ndjson')));
});

test('startOf: resume the same interrupted input, continue what a run left open, fresh after a final run, wipe private state', () => {
  const wm = { partitions: [['0', 5000, false]] as Array<[string, number, boolean]>, floor: -Infinity, emitted: 4000 };
  const a = { path: '/a', size: 10, mtimeMs: 1 };
  const b = { path: '/b', size: 10, mtimeMs: 1 };
  const cp = (over: Partial<Checkpoint>): Checkpoint => ({ input: a, position: 7, outputs: { events: 70 }, watermark: wm, done: true, final: false, ...over });
  assert.deepEqual(startOf(undefined, a, false), { kind: 'fresh' });
  assert.deepEqual(startOf(cp({ done: false }), a, false), { kind: 'resume', skip: 7, outputs: { events: 70 }, watermark: wm });
  assert.deepEqual(startOf(cp({ done: false }), a, true).kind, 'resume');
  assert.deepEqual(startOf(cp({}), b, false), { kind: 'continue', watermark: wm });
  assert.deepEqual(startOf(cp({}), a, false), { kind: 'continue', watermark: wm }, 'the same file again goes on from the state, it is not a resume');
  assert.deepEqual(startOf(cp({ done: false }), b, false), { kind: 'continue', watermark: wm }, 'interrupted over another input: mid-stream state');
  assert.deepEqual(startOf(cp({ done: false }), null, false).kind, 'continue', 'stdin is never the same input');
  assert.deepEqual(startOf(cp({ final: true }), b, false), { kind: 'fresh' });
  assert.deepEqual(startOf(cp({ final: undefined }), b, false), { kind: 'fresh' }, 'a checkpoint from before `final` existed: it closed everything');
  assert.deepEqual(startOf(cp({}), b, true), { kind: 'wipe' });
});

test('startOf over an interrupted checkpoint: same path and bytes resume (a touch too); the same path changed is refused; another path continues', () => {
  const wm = { partitions: [['0', 5000, false]] as Array<[string, number, boolean]>, floor: -Infinity, emitted: 4000 };
  const a = { path: '/in/a.ndjson', size: 10, mtimeMs: 1, sample: 'sha256:aa' };
  const cp: Checkpoint = { input: a, position: 7, outputs: { events: 70 }, watermark: wm, done: false, final: false };
  const refused = (what: string) => ({
    kind: 'refuse',
    message: `cannot resume: /in/a.ndjson changed since the interrupted run over it (${what}); run again with --restart to start over, or restore the input`,
  });
  assert.equal(startOf(cp, a, false).kind, 'resume');
  assert.equal(startOf(cp, { ...a, mtimeMs: 99 }, false).kind, 'resume', 'touched: same size and sample');
  assert.deepEqual(startOf(cp, { ...a, sample: 'sha256:bb' }, false), refused('its first or last 64 KiB differ'));
  assert.deepEqual(startOf(cp, { ...a, sample: 'sha256:bb' }, true), refused('its first or last 64 KiB differ'), 'the private state dir too');
  assert.deepEqual(startOf(cp, { ...a, size: 12 }, false), refused('its size went from 10 to 12 bytes'));
  assert.deepEqual(startOf(cp, { ...a, path: '/in/b.ndjson' }, false), { kind: 'continue', watermark: wm });
  assert.deepEqual(startOf(cp, { ...a, path: '/in/b.ndjson' }, true), { kind: 'wipe' });
  assert.equal(startOf({ ...cp, done: true }, { ...a, sample: 'sha256:bb' }, false).kind, 'continue', 'a finished run over the same path: the next one continues');
  // A checkpoint written before the sample existed: the modification time decides.
  const old: Checkpoint = { ...cp, input: { path: a.path, size: 10, mtimeMs: 1 } };
  assert.equal(startOf(old, a, false).kind, 'resume');
  assert.deepEqual(startOf(old, { ...a, mtimeMs: 2 }, false), refused('it was modified'));
});
