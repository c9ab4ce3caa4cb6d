import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tributary, tributaryAsync } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

// The CLI run of a sessionize pipeline, killed mid-stream and started again, resumes from its
// last checkpoint (state, timers and watermark in LMDB) and writes exactly the outputs of an
// uninterrupted run. Same pattern as test/runtime/embedded.resume.test.ts.
const dir = tempDir();
const input = join(dir, 'events.ndjson');
const pipelineFile = join(dir, 'p.yaml');
const reference = join(dir, 'reference');
const EVENTS = 60_000;

before(() => {
  writeFileSync(
    pipelineFile,
    'name: sessions-resume\nsource:\n  key: [anonymousId, userId]\n  allowedLateness: 1m\nsteps:\n  - sessionize: { key: [userId, anonymousId], gap: 30m, output: sessions }\n',
  );
  const g = tributary(['generate', '--events', String(EVENTS), '--seed', '5', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  const r = tributary(['run', pipelineFile, '--input', input, '--out-dir', reference, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});

const outputs = (d: string) =>
  Object.fromEntries(readdirSync(d).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, readFileSync(join(d, f), 'utf8')]));

test('sessionize, kill -9 mid-run, run again: it resumes and the events, sessions and late outputs equal an uninterrupted run', async () => {
  const ref = outputs(reference);
  assert.ok((ref['sessions.ndjson'] ?? '').split('\n').length > 1000, 'the reference run closed sessions');
  assert.ok((ref['late.ndjson'] ?? '').length > 0, 'the generated stream has late events');

  const out = join(dir, 'killed');
  const child = tributaryAsync(['run', pipelineFile, '--input', input, '--out-dir', out, '--checkpoint-every', '1000', '--quiet']);
  const exited = new Promise<NodeJS.Signals | null>((ok) => child.on('exit', (_code, sig) => ok(sig)));
  for (let i = 0; i < 4000; i++) {
    try {
      if (statSync(join(out, 'sessions.ndjson')).size > 1_500_000) break;
    } catch {
      /* not created yet */
    }
    await sleep(5);
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the run was still going when killed');

  const again = tributary(['run', pipelineFile, '--input', input, '--out-dir', out, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  const m = /resumed after record (\d+)/.exec(again.stdout);
  assert.ok(m && Number(m[1]) > 0 && Number(m[1]) < EVENTS, `expected a resume, got: ${again.stdout}`);
  assert.deepEqual(outputs(out), ref);
});
