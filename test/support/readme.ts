// The README's shell blocks, run as a reader runs them: each ```bash/```sh block as one bash
// script (so `P=…` and `export` carry from line to line), in a fresh directory where `examples/`
// is the repository's, with `tributary` on PATH as the built CLI (`npx tributary` too).
//
// A few lines cannot be run inside the test suite as they are; `prepareBlock` rewrites or drops
// exactly those, each with its reason (`NOT_RUN`, `REWRITES`), and nothing else.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from './cli.js';

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  lines: string[];
}

/** Every fenced block of the README with its language and first line. */
export function readmeBlocks(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  let open: ReadmeBlock | undefined;
  readme.split('\n').forEach((text, i) => {
    if (text.startsWith('```')) {
      if (open) {
        blocks.push(open);
        open = undefined;
      } else open = { line: i + 1, lang: text.slice(3).trim(), lines: [] };
    } else open?.lines.push(text);
  });
  return blocks;
}

export const shellBlocks = (blocks = readmeBlocks()) => blocks.filter((b) => b.lang === 'bash' || b.lang === 'sh');

/** A block that talks to Kafka (run by the integration test, with the suite's broker). */
export const isKafkaBlock = (b: ReadmeBlock) => b.lines.some((l) => /kafka:start|--brokers|KAFKA_BROKERS/.test(l));

/** Files a block writes by being shown: a ```yaml block whose first line is `# <name>.yaml`. */
export function shownFiles(blocks = readmeBlocks()): Record<string, string> {
  const files: Record<string, string> = {};
  for (const b of blocks) {
    const name = b.lang === 'yaml' ? /^# ([\w.-]+\.ya?ml)$/.exec(b.lines[0] ?? '')?.[1] : undefined;
    if (name) files[name] = `${b.lines.join('\n')}\n`;
  }
  return files;
}

/** Commands the suite cannot run from inside itself, and why. */
export const NOT_RUN: ReadonlyArray<readonly [RegExp, string]> = [
  [/^npm test\b/, 'it is this test suite'],
  [/^npm install\b/, 'the suite runs from an installed clone (.ci/run does npm ci)'],
  [/^npm run kafka:(start|stop)\b/, 'the suite has its broker already (KAFKA_BROKERS); stopping it would end the other tests'],
];

/** Whole blocks another test runs (it names the file), and why not here. */
export const RUN_ELSEWHERE: ReadonlyArray<readonly [RegExp, string, string]> = [
  [/kafka\.mjs start --secure/, 'test/integration/kafka.secure.test.ts', 'it starts a secure broker of its own and runs these commands over SASL_SSL; two secure brokers at once would share port 9094'],
];

/** The test file that runs this block instead (see {@link RUN_ELSEWHERE}), if any. */
export const runElsewhere = (b: ReadmeBlock) => RUN_ELSEWHERE.find(([re]) => b.lines.some((l) => re.test(l)))?.[1];

/** Lines run in a changed form, and why. */
export const REWRITES = [
  'npx tributary → tributary (the built CLI on PATH)',
  '127.0.0.1:9092 → the suite\'s broker',
  'tributary run … --brokers without --bounded (runs until stopped) → started, stopped with SIGTERM once a task is ready, its exit code kept',
  'npm start → the start script\'s command after its build (the suite has built already)',
];

/** The block as the bash script the test runs, with `run_until_ready` defined. */
export function prepareBlock(block: ReadmeBlock, brokers = '127.0.0.1:9092'): string {
  const startScript = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start as string;
  const startCommand = startScript.replace(/^npm run build --silent && /, '').replace(/^node dist\/bin\/tributary\.js /, 'tributary ');
  const out: string[] = [
    'set -euo pipefail',
    // A run that does not end by itself: wait for "ready on", then SIGTERM; the exit code is the run's.
    'run_until_ready() { "$@" 2> >(tee .run-stderr >&2) & local pid=$!; for _ in $(seq 1 1200); do grep -q ": ready on " .run-stderr 2>/dev/null && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done; kill -TERM $pid 2>/dev/null || true; wait $pid; }',
  ];
  for (const raw of block.lines) {
    let line = raw.replace(/^\s*\$ /, '');
    const command = line.replace(/\s+#.*$/, '').trim();
    if (command === '' || (NOT_RUN.some(([re]) => re.test(command)) && !/npm start/.test(command))) {
      out.push(`# not run: ${raw}`);
      continue;
    }
    line = command.replace(/^npm install && npm start$/, 'npm start').replace(/^npm start$/, startCommand);
    line = line.replace(/^npx tributary /, 'tributary ').replaceAll('127.0.0.1:9092', brokers);
    if (/^tributary run /.test(line) && /--brokers|KAFKA_BROKERS/.test(`${line} ${block.lines.join(' ')}`) && !/--bounded/.test(line)) line = `run_until_ready ${line}`;
    out.push(line);
  }
  return `${out.join('\n')}\n`;
}

export interface BlockRun {
  code: number | null;
  stdout: string;
  stderr: string;
  script: string;
}

/** A fresh directory with `examples/` of the repository and `tributary` on PATH. */
export function readmeWorkdir(dir: string, files: Record<string, string> = {}): string {
  symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
  mkdirSync(join(dir, '.bin'));
  const shim = join(dir, '.bin', 'tributary');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(shim, 0o755);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs a prepared block with bash in `dir` (see `readmeWorkdir`). */
export function runBlock(block: ReadmeBlock, dir: string, env: NodeJS.ProcessEnv = {}, brokers?: string): BlockRun {
  const script = prepareBlock(block, brokers);
  const r = spawnSync('bash', ['-c', script], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env, PATH: `${join(dir, '.bin')}:${process.env.PATH ?? ''}` },
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, script };
}
