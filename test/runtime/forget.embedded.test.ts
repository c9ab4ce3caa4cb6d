import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { deriveId } from '../../lib/operator/ids.js';
import { loadPipelineFile } from '../../lib/pipeline/load.js';
import { compilePipeline } from '../../lib/pipeline/compile.js';
import { runEmbedded } from '../../lib/runtime/embedded.js';
import { defaultRegistry } from '../../operators/index.js';
import { ROOT, tributary } from '../support/cli.js';
import { heldBy, lmdbEntries, type StateEntry } from '../support/forget.js';
import { tempDir } from '../support/tmp.js';

const PIPELINE = join(ROOT, 'examples/cart-abandonment/pipeline.yaml');
const dir = tempDir();
const generated = tributary(['generate', '--events', '3000', '--seed', '3', '--out', join(dir, 'events.ndjson')]);
assert.equal(generated.code, 0, generated.stderr);
const lines = readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n');
/** The request comes after this many events; the person is user-48 (two user ids through an alias, two devices, a merged person). */
const CUT = 2872;
const SUBJECT = 'user-48';
const ndjson = (xs: string[]) => `${xs.join('\n')}\n`;
const run = (input: string, out: string, state: string) => {
  const r = tributary(['run', PIPELINE, '--input', input, '--out-dir', out, '--state-dir', state]);
  assert.equal(r.code, 0, r.stderr);
  return r;
};
const read = (file: string) => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/** Every identifier and person id the state holds for the person of `userId` (from joinIdentity's persons). */
function personTerms(entries: StateEntry[], userId: string): { terms: string[]; identifiers: string[]; absorbed: string[] } {
  const person = entries.find((e) => e.store === 'joinIdentity.persons' && (e.value as { identifiers: string[] }).identifiers.includes(`userId:${userId}`));
  assert.ok(person, `a person holds userId:${userId}`);
  const p = person.value as { personId: string; identifiers: string[]; absorbed: string[] };
  const values = p.identifiers.map((i) => i.slice(i.indexOf(':') + 1));
  return { terms: [...values, ...p.identifiers, p.personId, ...p.absorbed], identifiers: p.identifiers, absorbed: p.absorbed };
}

/** Entries per store that hold one of `terms`, every store of the pipeline's steps listed. */
function expectedCounts(entries: StateEntry[], terms: string[]): Record<string, number> {
  const topology = compilePipeline(loadPipelineFile(PIPELINE, defaultRegistry), defaultRegistry);
  const counts = Object.fromEntries(topology.steps.flatMap((s) => s.stores).map((s) => [s, 0]));
  for (const h of heldBy(entries, terms)) counts[h.store] = (counts[h.store] ?? 0) + 1;
  return counts;
}

const forgetLine = (messageId: string) => JSON.stringify({ messageId, type: 'forget', userId: SUBJECT, timestamp: '2026-12-07T06:00:00Z', properties: { requestedBy: 'dpo@example.com' } });

test('a forget event mid-run erases the person from every store, with an exact audit record; their later events start fresh', async () => {
  // Reference: the same events up to the request, no request.
  writeFileSync(join(dir, 'part1.ndjson'), ndjson(lines.slice(0, CUT)));
  run(join(dir, 'part1.ndjson'), join(dir, 'ref-out'), join(dir, 'ref-state'));
  const reference = await lmdbEntries(join(dir, 'ref-state'));
  const person = personTerms(reference, SUBJECT);
  assert.ok(person.identifiers.length >= 4 && person.absorbed.length >= 1, `several identifiers and a merged id: ${JSON.stringify(person)}`);
  const expected = expectedCounts(reference, person.terms);

  // The run with the request in its input, then the rest of the stream in a second (continuing) run.
  writeFileSync(join(dir, 'with-request.ndjson'), ndjson([...lines.slice(0, CUT), forgetLine('req-1')]));
  const r = run(join(dir, 'with-request.ndjson'), join(dir, 'out'), join(dir, 'state'));
  assert.match(r.stdout, /forgotten\.ndjson {2}1 records/);
  const audit = read(join(dir, 'out/forgotten.ndjson'));
  assert.equal(typeof audit[0]?.at, 'number');
  assert.deepEqual(audit, [{
    id: deriveId('forgotten', 'req-1', 'embedded'), requestId: 'req-1', requestedBy: 'dpo@example.com', task: 'embedded', at: audit[0]?.at, stores: expected,
    total: Object.values(expected).reduce((a, b) => a + b, 0),
  }]);
  assert.ok((audit[0]?.total as number) >= 10, `the person had state in several stores: ${JSON.stringify(expected)}`);
  assert.deepEqual(read(join(dir, 'out/events.ndjson')).filter((e) => e.type === 'forget'), [], 'never written to events');
  assert.deepEqual(read(join(dir, 'out/late.ndjson')).filter((e) => e.type === 'forget'), [], 'never late');
  assert.equal(heldBy(await lmdbEntries(join(dir, 'state')), person.terms).length, 0);
  // Other people keep their state: the store holds as many entries as the reference minus the person's.
  assert.equal((await lmdbEntries(join(dir, 'state'))).filter((e) => !e.store.startsWith('_')).length,
    reference.filter((e) => !e.store.startsWith('_')).length - (audit[0]?.total as number));

  writeFileSync(join(dir, 'part2.ndjson'), ndjson(lines.slice(CUT)));
  run(join(dir, 'part2.ndjson'), join(dir, 'out2'), join(dir, 'state'));
  const later = lines.slice(CUT).map((l) => JSON.parse(l) as { userId: string | null; anonymousId: string | null; timestamp: number; type: string });
  const firstAgain = later.filter((e) => e.type !== 'forget' && (e.userId === SUBJECT || person.terms.includes(e.anonymousId ?? ''))).map((e) => e.timestamp).sort((a, b) => a - b)[0];
  assert.ok(firstAgain !== undefined, 'the person comes back after the request');
  const again = personTerms(await lmdbEntries(join(dir, 'state')), SUBJECT);
  const fresh = (await lmdbEntries(join(dir, 'state'))).find((e) => e.store === 'joinIdentity.persons' && (e.value as { identifiers: string[] }).identifiers.includes(`userId:${SUBJECT}`))?.value as { firstSeen: number };
  assert.ok(fresh.firstSeen >= firstAgain, `the person's record starts at their first event after the request (${fresh.firstSeen} ≥ ${firstAgain})`);
  assert.ok(again.identifiers.length >= 1);
});

test('tributary forget on a stopped pipeline\'s state directory: refused while a run holds it or after an interrupted run; then applied, checkpointed, audited', async () => {
  writeFileSync(join(dir, 'all.ndjson'), ndjson(lines));
  run(join(dir, 'all.ndjson'), join(dir, 'cli-out'), join(dir, 'cli-state'));
  const before = await lmdbEntries(join(dir, 'cli-state'));
  const person = personTerms(before, SUBJECT);
  const expected = expectedCounts(before, person.terms);
  const forget = (...extra: string[]) => tributary(['forget', PIPELINE, '--state-dir', join(dir, 'cli-state'), '--identifier', `userId:${SUBJECT}`, '--out-dir', join(dir, 'cli-out'), ...extra]);

  writeFileSync(join(dir, 'cli-state/run.pid'), `${process.pid}\n`);
  const held = forget();
  assert.deepEqual([held.code, held.stderr], [1, `error: ${join(dir, 'cli-state')}: a run (pid ${process.pid}) holds this state: stop it first, or send the request in its input as a forget event\n`]);
  writeFileSync(join(dir, 'cli-state/run.pid'), '999999999\n'); // a run that died: ignored

  const done = forget('--requested-by', 'dpo@example.com', '--request-id', 'req-cli');
  assert.equal(done.code, 0, done.stderr);
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  assert.match(done.stdout, new RegExp(`^forgot request req-cli in .*: ${total} entries removed \\(dedupe\\.seen 0, joinIdentity\\.ids ${expected['joinIdentity.ids']}, `));
  const audit = read(join(dir, 'cli-out/forgotten.ndjson'));
  assert.deepEqual(audit, [{ id: deriveId('forgotten', 'req-cli', 'embedded'), requestId: 'req-cli', requestedBy: 'dpo@example.com', task: 'embedded', at: audit[0]?.at, stores: expected, total }]);
  assert.deepEqual(heldBy(await lmdbEntries(join(dir, 'cli-state')), person.terms), []);
  // Again: nothing left to remove, a second audit record appended.
  const again = forget('--request-id', 'req-cli-2');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(read(join(dir, 'cli-out/forgotten.ndjson')).map((r) => [r.requestId, r.requestedBy, r.total]), [['req-cli', 'dpo@example.com', total], ['req-cli-2', null, 0]]);

  // An interrupted run's state: resume it first.
  const topology = compilePipeline(loadPipelineFile(PIPELINE, defaultRegistry), defaultRegistry);
  const abort = new AbortController();
  abort.abort();
  const interrupted = await runEmbedded({ topology, input: join(dir, 'all.ndjson'), outDir: join(dir, 'int-out'), stateDir: join(dir, 'int-state'), signal: abort.signal, registry: new Registry() });
  assert.equal(interrupted.interrupted, true);
  const refused = tributary(['forget', PIPELINE, '--state-dir', join(dir, 'int-state'), '--person', 'p-1']);
  assert.deepEqual([refused.code, refused.stderr], [1, `error: ${join(dir, 'int-state')}: the last run over this state was interrupted: run it again to finish (or --restart), then forget\n`]);
  const usage = tributary(['forget', PIPELINE, '--state-dir', join(dir, 'int-state')]);
  assert.deepEqual([usage.code, usage.stderr], [2, 'error: name the person: --person <personId> or --identifier <field:value>\n']);
  const none = tributary(['forget', PIPELINE, '--state-dir', join(dir, 'nothing-here'), '--person', 'p-1']);
  assert.deepEqual([none.code, none.stderr], [1, `error: ${join(dir, 'nothing-here')}: no pipeline state here (an embedded run's --state-dir holds data.mdb)\n`]);
});

test('tributary forget --brokers refuses joinIdentity mode: global-table before it connects', () => {
  const file = join(dir, 'global-table.yaml');
  writeFileSync(file, readFileSync(PIPELINE, 'utf8').replace('{ identifiers: [userId, anonymousId], output: identity-merges }', '{ identifiers: [userId, anonymousId], output: identity-merges, mode: global-table }'));
  const r = tributary(['forget', file, '--brokers', '127.0.0.1:1', '--identifier', 'userId:u1']);
  assert.deepEqual([r.code, r.stderr], [2, `error: ${file}: forgetting a person is not supported with joinIdentity mode: global-table (its global table is written by one resolver task and read by all); use the default mode\n`]);
});
