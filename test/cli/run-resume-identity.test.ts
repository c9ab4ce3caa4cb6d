// An interrupted run (kill -9 after a checkpoint) over a file, with an explicit --state-dir, then
// the same command again: over the unchanged file, or one only touched, it resumes and the outputs
// are byte for byte an uninterrupted run's; over the file changed in place it refuses (exit 1,
// one line naming the file, what changed and the fix) instead of going on from the killed run's
// state with emptied outputs; --restart then starts over and writes what an uninterrupted run
// over the changed file writes.
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tributary, tributaryAsync } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('tributary-resume-identity-');
const original = join(dir, 'events.ndjson');
const pipelineFile = join(dir, 'p.yaml');

/** `tributary run` over `input` into `<at>/out` with the state in `<at>/state`. */
const runArgs = (at: string, input: string, ...more: string[]) => ['run', pipelineFile, '--input', input, '--out-dir', join(at, 'out'), '--state-dir', join(at, 'state'), '--quiet', ...more];

const outputs = (d: string) =>
  Object.fromEntries(readdirSync(d).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, readFileSync(join(d, f), 'utf8')]));

/** The outputs of an uninterrupted run over a copy of `input` (same file name, fresh state). */
function uninterrupted(name: string, input: string) {
  const at = join(dir, name);
  mkdirSync(at);
  copyFileSync(input, join(at, 'events.ndjson'));
  const r = tributary(runArgs(at, join(at, 'events.ndjson')));
  assert.equal(r.code, 0, r.stderr);
  return outputs(join(at, 'out'));
}

let reference: Record<string, string>;

before(() => {
  writeFileSync(pipelineFile, 'name: resume-identity\nsource:\n  key: [anonymousId, userId]\n  allowedLateness: 1m\nsteps:\n  - dedupe: { ttl: 1h, output: duplicates }\n');
  const g = tributary(['generate', '--events', '60000', '--seed', '5', '--out', original]);
  assert.equal(g.code, 0, g.stderr);
  reference = uninterrupted('reference', original);
});

/** A copy of the input in `<dir>/<name>/events.ndjson`, run and killed (SIGKILL) after its outputs passed 2 MB. */
async function killedRun(name: string): Promise<{ at: string; input: string }> {
  const at = join(dir, name);
  mkdirSync(at);
  const input = join(at, 'events.ndjson');
  copyFileSync(original, input);
  const child = tributaryAsync(runArgs(at, input, '--checkpoint-every', '1000'));
  const exited = new Promise<NodeJS.Signals | null>((ok) => child.on('exit', (_code, signal) => ok(signal)));
  for (let i = 0; i < 4000; i++) {
    try {
      if (statSync(join(at, 'out', 'events.ndjson')).size > 2_000_000) break;
    } catch {
      /* not created yet */
    }
    await sleep(5);
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'the run was still going when killed');
  return { at, input };
}

test('kill -9, then the same command over the unchanged input: resumed, outputs byte-identical to an uninterrupted run', async () => {
  const { at, input } = await killedRun('unchanged');
  const again = tributary(runArgs(at, input));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(resumed after record [1-9]\d*\)/);
  assert.doesNotMatch(again.stdout, /continued from/);
  assert.deepEqual(outputs(join(at, 'out')), reference);
});

test('kill -9, then `touch` of the input (same size and bytes): still the same input, resumed to identical outputs', async () => {
  const { at, input } = await killedRun('touched');
  const later = new Date(statSync(input).mtimeMs + 60_000);
  utimesSync(input, later, later);
  const again = tributary(runArgs(at, input));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(resumed after record [1-9]\d*\)/);
  assert.deepEqual(outputs(join(at, 'out')), reference);
});

test('kill -9, then the input changed in place: refused (exit 1, one line, outputs untouched); --restart writes what an uninterrupted run over the new input does', async () => {
  const { at, input } = await killedRun('changed');
  const before = outputs(join(at, 'out'));
  // The same size, one character of the first record's messageId changed.
  const text = readFileSync(input, 'utf8');
  const at0 = text.indexOf('"messageId":"') + '"messageId":"'.length;
  writeFileSync(input, text.slice(0, at0) + (text[at0] === 'z' ? 'y' : 'z') + text.slice(at0 + 1));
  const refused = tributary(runArgs(at, input));
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.equal(refused.stderr, `error: cannot resume: ${input} changed since the interrupted run over it (its first or last 64 KiB differ); run again with --restart to start over, or restore the input\n`);
  assert.deepEqual(outputs(join(at, 'out')), before, 'a refused run leaves the outputs alone');

  // Appended to: another size.
  writeFileSync(input, readFileSync(input, 'utf8') + readFileSync(original, 'utf8').split('\n')[0] + '\n');
  const grown = tributary(runArgs(at, input));
  assert.equal(grown.code, 1);
  assert.equal(grown.stderr, `error: cannot resume: ${input} changed since the interrupted run over it (its size went from ${statSync(original).size} to ${statSync(input).size} bytes); run again with --restart to start over, or restore the input\n`);

  const restarted = tributary(runArgs(at, input, '--restart'));
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.match(restarted.stdout, /^done: pipeline resume-identity, 60001 records from [^\n]* in /);
  assert.doesNotMatch(restarted.stdout, /resumed|continued/);
  assert.deepEqual(outputs(join(at, 'out')), uninterrupted('changed-reference', input));
});

test('--restart is for embedded runs: refused against Kafka (exit 2)', () => {
  const r = tributary(['run', pipelineFile, '--brokers', '127.0.0.1:1', '--restart']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: --restart is for embedded runs (with --input); against Kafka it would be ignored\n');
});

test('an output file as the input (to run dead letters again, say) is refused, exit 2, and left whole; by name or through a link', async () => {
  const at = join(dir, 'self');
  const first = tributary(runArgs(at, original));
  assert.equal(first.code, 0, first.stderr);
  const events = join(at, 'out', 'events.ndjson');
  const before = readFileSync(events, 'utf8');
  assert.ok(before.length > 0);
  const again = tributary(runArgs(at, events));
  assert.equal(again.code, 2, again.stderr);
  assert.equal(again.stderr, `error: --input ${events} is the run's output of stream events (${events}): it would be emptied before it is read; copy it elsewhere first, or write to another --out-dir\n`);
  assert.equal(readFileSync(events, 'utf8'), before, 'the file is untouched');
  const link = join(dir, 'link.ndjson');
  linkSync(events, link);
  const linked = tributary(runArgs(at, link));
  assert.equal(linked.code, 2, linked.stderr);
  assert.match(linked.stderr, /is the run's output of stream events/);
  assert.equal(readFileSync(events, 'utf8'), before);
});
