// Runtime failures of the CLI as a user meets them: one line that says what failed and what to
// do, exit 1, the stack only with --verbose; and --version.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tributary } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const REES = ['run', 'examples/rees46-dedupe/pipeline.yaml'];

test('--version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = tributary(['--version']);
  assert.deepEqual([r.code, r.stdout], [0, `${version}\n`]);
});

test('a missing input file, an --out-dir that is a file, generate into a missing directory: one line each, exit 1', () => {
  const dir = tempDir();
  const missing = tributary([...REES, '--input', join(dir, 'nope.csv'), '--out-dir', join(dir, 'out')]);
  assert.deepEqual([missing.code, missing.stderr], [1, `error: cannot open ${join(dir, 'nope.csv')}: no such file or directory (check the path)\n`]);
  writeFileSync(join(dir, 'file'), '');
  const onFile = tributary([...REES, '--input', 'examples/data/rees46-2019-10-01-head.csv', '--out-dir', join(dir, 'file'), '-q']);
  assert.equal(onFile.code, 1);
  assert.equal(onFile.stderr, `error: ${join(dir, 'file', '.state')}: a path through it is a file, not a directory (choose another --out-dir or --state-dir)\n`);
  // A directory as the input was Node's own "EISDIR: illegal operation on a directory, read".
  const onDir = tributary([...REES, '--input', dir, '--out-dir', join(dir, 'out2'), '-q']);
  assert.deepEqual([onDir.code, onDir.stderr], [1, 'error: the input is a directory, not a file: give --input a file (or - for stdin)\n']);
  const gen = tributary(['generate', '--events', '5', '--out', join(dir, 'no', 'such', 'x.ndjson')]);
  assert.deepEqual([gen.code, gen.stderr], [1, `error: cannot open ${join(dir, 'no', 'such', 'x.ndjson')}: no such file or directory (check the path)\n`]);
});

test('--verbose (or TRIBUTARY_VERBOSE=1) adds the stack trace after the line', () => {
  const dir = tempDir();
  const r = tributary(['--verbose', ...REES, '--input', join(dir, 'nope.csv'), '--out-dir', join(dir, 'out')]);
  assert.equal(r.code, 1);
  const [line, ...stack] = r.stderr.split('\n');
  assert.equal(line, `error: cannot open ${join(dir, 'nope.csv')}: no such file or directory (check the path)`);
  assert.match(stack.join('\n'), /^Error: ENOENT: no such file or directory, (open|stat) '.*nope\.csv'\n\s+at /);
  const env = tributary([...REES, '--input', join(dir, 'nope.csv'), '--out-dir', join(dir, 'out')], undefined, { ...process.env, TRIBUTARY_VERBOSE: '1' });
  assert.match(env.stderr, /^error: cannot open .*\nError: ENOENT/);
});

test('an unreachable broker: the last line says where and what to do, exit 1', { timeout: 60_000 }, () => {
  const r = tributary(['run', 'examples/cart-abandonment/pipeline.yaml', '--brokers', '127.0.0.1:9', '-q']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trimEnd().split('\n').at(-1), 'error: cannot reach Kafka at 127.0.0.1:9 (Connection error: connect ECONNREFUSED 127.0.0.1:9): is the broker running? (npm run kafka:start starts a local one)');
});

test('a reader that closes the pipe early (| head) ends the command quietly, exit 0', async () => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../support/cli.js');
  const child = spawn(process.execPath, [BIN, 'generate', '--events', '200000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const first = await new Promise<string>((ok) => child.stdout.once('data', (b: Buffer) => ok(b.toString())));
  child.stdout.destroy();
  const code = await new Promise<number | null>((ok) => child.on('exit', ok));
  assert.match(first, /^\{"messageId":"g-1-0"/);
  assert.deepEqual([code, stderr], [0, '']);
});
