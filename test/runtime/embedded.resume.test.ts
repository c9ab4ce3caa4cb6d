import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, ROOT, tributary, tributaryAsync } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir();
const input = join(dir, 'events.ndjson');
const pipelineFile = join(dir, 'p.yaml');
const reference = join(dir, 'reference');

before(() => {
  writeFileSync(pipelineFile, 'name: resume\nsource:\n  key: [anonymousId, userId]\n  allowedLateness: 1m\nsteps:\n  - dedupe: { ttl: 1h, output: duplicates }\n');
  const g = tributary(['generate', '--events', '150000', '--seed', '3', '--out', input]);
  assert.equal(g.code, 0, g.stderr);
  const r = tributary(['run', pipelineFile, '--input', input, '--out-dir', reference, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});

const outputs = (d: string) =>
  Object.fromEntries(readdirSync(d).filter((f) => f.endsWith('.ndjson')).sort().map((f) => [f, readFileSync(join(d, f), 'utf8')]));

async function startAndStop(out: string, signal: NodeJS.Signals) {
  const child = tributaryAsync(['run', pipelineFile, '--input', input, '--out-dir', out, '--checkpoint-every', '1000', '--quiet']);
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.on('exit', (code, sig) => ok({ code, signal: sig })));
  // Wait until a few checkpoints have been written, then stop it mid-stream.
  for (let i = 0; i < 2000; i++) {
    try {
      if (statSync(join(out, 'events.ndjson')).size > 2_000_000) break;
    } catch {
      /* not created yet */
    }
    await sleep(5);
  }
  child.kill(signal);
  return { ...(await exited), stdout: () => stdout };
}

test('kill -9 mid-run, run again: it resumes from the last checkpoint and the outputs equal an uninterrupted run', async () => {
  const out = join(dir, 'killed');
  const stopped = await startAndStop(out, 'SIGKILL');
  assert.equal(stopped.signal, 'SIGKILL', 'the run was still going when killed');
  const again = tributary(['run', pipelineFile, '--input', input, '--out-dir', out, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  const m = /resumed after record (\d+)/.exec(again.stdout);
  assert.ok(m, `expected a resume, got: ${again.stdout}`);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < 150000);
  assert.deepEqual(outputs(out), outputs(reference));
});

test('SIGTERM: stops at a checkpoint (exit 0, "interrupted"); the same command resumes to identical outputs', async () => {
  const out = join(dir, 'terminated');
  const stopped = await startAndStop(out, 'SIGTERM');
  assert.equal(stopped.code, 0);
  assert.match(stopped.stdout(), /^interrupted: pipeline resume/);
  const again = tributary(['run', pipelineFile, '--input', input, '--out-dir', out, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /resumed after record \d+/);
  assert.deepEqual(outputs(out), outputs(reference));
});

test('a finished run is not resumed: running again starts fresh and writes the same outputs', () => {
  const again = tributary(['run', pipelineFile, '--input', input, '--out-dir', reference, '--quiet']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /resumed/);
  assert.match(again.stdout, /done: pipeline resume, 150000 records/);
});

test('SIGTERM while the run waits for input (stdin open and quiet; an endless line from /dev/zero): it stops at once, checkpointed, with what it read processed', async () => {
  const out = join(dir, 'waiting');
  const child = spawn(process.execPath, [BIN, 'run', pipelineFile, '--input', '-', '--out-dir', out, '--quiet'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  child.stdin.write(readFileSync(input, 'utf8').split('\n').slice(0, 100).join('\n') + '\n');
  for (let i = 0; i < 400 && !existsSync(join(out, 'events.ndjson')); i++) await sleep(10);
  await sleep(300);
  const t0 = Date.now();
  child.kill('SIGTERM');
  const guard = setTimeout(() => child.stdin.end(), 8000); // before the fix it waited for the end of input
  assert.equal(await exited, 0, stderr);
  clearTimeout(guard);
  assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  assert.match(stdout, /100 records/);
  assert.match(stderr, /stopped by signal after a checkpoint/);
  const lines = (f: string) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean).length;
  assert.equal(lines('events.ndjson') + lines('duplicates.ndjson') + lines('late.ndjson') + lines('dead-letter.ndjson'), 100, 'every record read is in an output');
  child.stdin.destroy();

  // /dev/zero: no newline ever comes, the reader skips one oversized line for ever.
  const zero = spawn(process.execPath, [BIN, 'run', pipelineFile, '--input', '/dev/zero', '--format', 'json', '--out-dir', join(dir, 'zero'), '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let zerr = '';
  zero.stderr.on('data', (b: Buffer) => (zerr += b));
  const zexit = new Promise<number | null>((ok) => zero.on('exit', (code) => ok(code)));
  await sleep(1500);
  const z0 = Date.now();
  zero.kill('SIGTERM');
  const timer = setTimeout(() => zero.kill('SIGKILL'), 10_000);
  assert.equal(await zexit, 0, zerr);
  clearTimeout(timer);
  assert.ok(Date.now() - z0 < 5000, `stopped in ${Date.now() - z0} ms`);
  assert.match(zerr, /stopped by signal after a checkpoint/);
});
