// A record a step throws on (an operator bug, a key the store cannot hold) becomes a dead letter
// with the error, and the run goes on; with `onProcessingError: fail` the run stops at it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { parsePipeline } from '../../lib/pipeline/load.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { ProcessingError } from '../../lib/runtime/task.js';
import { tributary } from '../support/cli.js';
import { poisonRegistry } from '../support/poison.js';
import { tempDir } from '../support/tmp.js';

const readNdjson = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** m1–m3 of anonymousId a, m4–m6 of b, one minute apart. */
function writeInput(dir: string): { input: string; lines: string[] } {
  const lines = [1, 2, 3, 4, 5, 6].map((i) => JSON.stringify({ messageId: `m${i}`, type: 'track', event: 'view', anonymousId: i <= 3 ? 'a' : 'b', timestamp: T0 + i * MIN }));
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, lines.join('\n') + '\n');
  return { input, lines };
}

function topology(extra: string) {
  const yaml = `name: poisoned
source: { key: anonymousId, allowedLateness: 1m }
steps:
  - dedupe: {}
  - poison: ${extra}
  - sessionize: { key: anonymousId, gap: 30m, output: sessions }
`;
  return compilePipeline(parsePipeline(yaml, 'p.yaml', poisonRegistry), poisonRegistry);
}

test('a record an operator throws on is a dead letter (processing-error, the message, file:line); every other record is intact', async () => {
  const dir = tempDir();
  const { input, lines } = writeInput(dir);
  const out = join(dir, 'out');
  const summary = await runEmbedded({ topology: topology('{ throwOn: [m3], throwOnTimerOf: [b] }'), input, outDir: out });
  assert.deepEqual(readNdjson(join(out, 'events.ndjson')).map((e) => e.messageId), ['m1', 'm2', 'm4', 'm5', 'm6']);
  const dead = readNdjson(join(out, 'dead-letter.ndjson'));
  assert.deepEqual(dead[0], { reason: 'processing-error', detail: 'steps[1].poison (poison) threw on this record: boom on m3', raw: lines[2], source: 'in.ndjson:3' });
  // b's three timers each threw when they fired (the watermark reached them as b's events came
  // in, and the rest at the end of input); each is one dead letter, and a's timers still fired.
  assert.deepEqual(dead.slice(1).map((d) => [d.reason, d.source, d.raw]), [
    ['processing-error', 'step poison', ''],
    ['processing-error', 'step poison', ''],
    ['processing-error', 'step poison', ''],
  ]);
  assert.deepEqual(dead.slice(1).map((d) => String(d.detail).replace(/watermark -?\w+/, 'watermark W')), [4, 5, 6].map((m) => `steps[1].poison (poison) threw firing timer b:${T0 + m * MIN} (due ${T0 + (m + 1) * MIN}, watermark W): timer boom for b`));
  assert.deepEqual(readNdjson(join(out, 'ticks.ndjson')), [{ key: 'a', at: T0 + 2 * MIN }, { key: 'a', at: T0 + 3 * MIN }]);
  assert.deepEqual(readNdjson(join(out, 'sessions.ndjson')).map((s) => [s.key, s.eventCount]), [['a', 2], ['b', 3]]);
  assert.deepEqual(summary.deadLetters, { 'processing-error': 4 });
});

test('onProcessingError: fail stops the run at the record with a ProcessingError; the same state then runs on with dead-letter', async () => {
  const dir = tempDir();
  const { input } = writeInput(dir);
  const out = join(dir, 'out');
  const stateDir = join(dir, 'state');
  const failing = { ...topology('{ throwOn: [m3] }'), onProcessingError: 'fail' as const };
  await assert.rejects(runEmbedded({ topology: failing, input, outDir: out, stateDir }), (e: unknown) => {
    assert.ok(e instanceof ProcessingError);
    assert.equal(e.step, 'poison');
    assert.equal(e.source, 'in.ndjson:3');
    assert.equal(e.message, `in.ndjson:3: steps[1].poison (poison) threw on this record: boom on m3 (onProcessingError: fail stops the run here; fix the step or the record, or set onProcessingError: dead-letter)`);
    return true;
  });
  // Nothing was checkpointed past the record: a run with the default policy gives the whole result
  // (final: the explicit state directory would otherwise leave the last timers open).
  await runEmbedded({ topology: topology('{ throwOn: [m3] }'), input, outDir: out, stateDir, final: true });
  assert.deepEqual(readNdjson(join(out, 'events.ndjson')).map((e) => e.messageId), ['m1', 'm2', 'm4', 'm5', 'm6']);
  assert.deepEqual(readNdjson(join(out, 'dead-letter.ndjson')).map((d) => [d.reason, d.source]), [['processing-error', 'in.ndjson:3']]);
  assert.deepEqual(readNdjson(join(out, 'ticks.ndjson')).map((t) => t.key), ['a', 'a', 'b', 'b', 'b']);
});

test('onProcessingError: fail on a timer: the error names the step and the timer', async () => {
  const dir = tempDir();
  const { input } = writeInput(dir);
  const failing = { ...topology('{ throwOnTimerOf: [a] }'), onProcessingError: 'fail' as const };
  await assert.rejects(runEmbedded({ topology: failing, input, outDir: join(dir, 'out') }), (e: unknown) => {
    assert.ok(e instanceof ProcessingError);
    assert.equal(e.source, 'step poison');
    assert.match(e.message, new RegExp(`^step poison: steps\\[1\\]\\.poison \\(poison\\) threw firing timer a:${T0 + MIN} \\(due ${T0 + 2 * MIN}, watermark ${T0 + 2 * MIN}\\): timer boom for a \\(onProcessingError: fail`));
    return true;
  });
});

test('a step meeting a failure of its state (LMDB reporting a damaged file) stops the run with the state-corrupted line: not a dead letter, since every record after would meet it too', async () => {
  const dir = tempDir();
  const { input } = writeInput(dir);
  const out = join(dir, 'out');
  const stateDir = join(dir, 'state');
  await assert.rejects(runEmbedded({ topology: topology('{ stateFailureOn: [m3] }'), input, outDir: out, stateDir }), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.equal(e.message, `state corrupted: ${join(stateDir, 'data.mdb')} (MDB_PAGE_NOTFOUND: Requested page not found); delete ${stateDir} to start over, or restore it`);
    return true;
  });
  assert.deepEqual(readNdjson(join(out, 'dead-letter.ndjson')), []);
});

test('RxJS wiring: a failure of the state errors the stream; a record the step throws on is a dead letter', async () => {
  const { keyedOperator } = await import('../../lib/operator/rx.js');
  const { poisonOperator } = await import('../support/poison.js');
  const { from, lastValueFrom, toArray } = await import('rxjs');
  const events = [1, 2, 3].map((i) => ({ messageId: `m${i}`, type: 'track', event: 'view', anonymousId: 'a', timestamp: T0 + i * MIN }));
  const dead: unknown[] = [];
  const passed = await lastValueFrom(from(events).pipe(keyedOperator(poisonOperator, { throwOn: ['m2'], outputs: { 'dead-letter': (r: unknown) => void dead.push(r) } }), toArray()));
  assert.deepEqual(passed.map((e) => e.messageId), ['m1', 'm3']);
  assert.equal(dead.length, 1);
  await assert.rejects(lastValueFrom(from(events).pipe(keyedOperator(poisonOperator, { stateFailureOn: ['m2'] }), toArray())), /^Error: MDB_PAGE_NOTFOUND: Requested page not found$/);
});

test('CLI: a key no store can hold is an invalid-key dead letter; with onProcessingError: fail the run exits 1 with one line', () => {
  const dir = tempDir();
  const events = [
    { messageId: 'm1', type: 'track', event: 'view', anonymousId: 'a', userId: 'u1', timestamp: T0 + MIN },
    { messageId: 'm2', type: 'track', event: 'view', anonymousId: 'a', userId: 'u\u0000x', timestamp: T0 + 2 * MIN },
    { messageId: 'm3', type: 'track', event: 'view', anonymousId: 'b', userId: 'u2', timestamp: T0 + 3 * MIN },
  ];
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const yaml = 'name: bad-keys\nsource: { key: [userId, anonymousId] }\nsteps:\n  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }\n';
  const file = join(dir, 'p.yaml');
  writeFileSync(file, yaml);
  const out = join(dir, 'out');
  const r = tributary(['run', file, '--input', input, '--out-dir', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readNdjson(join(out, 'events.ndjson')).map((e) => e.messageId), ['m1', 'm3']);
  const dead = readNdjson(join(out, 'dead-letter.ndjson'));
  assert.deepEqual(dead.map((d) => [d.reason, d.source, d.detail]), [
    ['invalid-key', 'in.ndjson:2', 'steps[0].sessionize (sessionize) threw on this record: store "sessionize.sessions": invalid key "u\\u0000x": strings in keys may not contain U+0000..U+0004 or lone surrogates'],
  ]);
  assert.deepEqual(readNdjson(join(out, 'sessions.ndjson')).map((s) => s.key), ['u1', 'u2']);

  writeFileSync(file, `${yaml}onProcessingError: fail\n`);
  const failed = tributary(['run', file, '--input', input, '--out-dir', join(dir, 'out2'), '--quiet']);
  assert.equal(failed.code, 1);
  assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr);
  assert.match(failed.stderr, /^error: .*in\.ndjson:2: steps\[0\]\.sessionize \(sessionize\) threw on this record: store "sessionize\.sessions": invalid key .* \(onProcessingError: fail stops the run here; fix the step or the record, or set onProcessingError: dead-letter\)\n$/);
});
