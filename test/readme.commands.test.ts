// Every `tributary …` command line in the README's code blocks and command tables is one the CLI
// accepts: an existing command, only options it has, and an existing example file where it names
// one, including table cells and prose the README does not run (the shell blocks themselves run in
// test/readme.run.test.ts and test/integration/readme.kafka.test.ts).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { createProgram } from '../lib/cli/program.js';
import { defaultRegistry } from '../operators/index.js';
import { ROOT } from './support/cli.js';

/** The command lines: code-block lines starting with `tributary`/`npx tributary`, and table cells `` `tributary …` ``. */
function readmeCommands(readme: string): string[] {
  const out: string[] = [];
  let inCode = false;
  for (const line of readme.split('\n')) {
    if (line.startsWith('```')) {
      inCode = !inCode;
      continue;
    }
    const m = inCode ? /^\s*(?:\$ )?(?:npx )?(tributary\s.*?)(?:\s+#.*)?$/.exec(line) : null;
    if (m) out.push(m[1] as string);
    if (!inCode) for (const cell of line.matchAll(/^\| `(tributary [^`]+)`/g)) out.push((cell[1] as string).replace(/\\\|/g, '|'));
  }
  return out;
}

function flagsOf(cmd: Command): Set<string> {
  const names = new Set<string>(['--help', '-h', '--verbose', '--version', '-V']);
  for (const o of cmd.options) {
    if (o.long) names.add(o.long);
    if (o.short) names.add(o.short);
  }
  return names;
}

test('README: every tributary command line names a command and options the CLI has', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = readmeCommands(readme);
  assert.ok(lines.length >= 20, `found ${lines.length} command lines`);
  const program = createProgram(defaultRegistry, { stdout: () => undefined, stderr: () => undefined });
  const problems: string[] = [];
  for (const line of lines) {
    const words = line.split(/\s+/).filter(Boolean);
    const name = words[1] as string;
    if (name.startsWith('-')) continue; // `tributary --version`
    const cmd = program.commands.find((c) => c.name() === name);
    if (!cmd) {
      problems.push(`${line}: no command ${name}`);
      continue;
    }
    const flags = flagsOf(cmd);
    for (const w of words.slice(2)) {
      const flag = w.replace(/^\[+/, '').replace(/[\]|,…]+$/, '').split('=')[0] as string;
      if (flag.startsWith('-') && !flags.has(flag)) problems.push(`${line}: ${name} has no option ${flag}`);
      if (/^examples\/[\w./-]+\.(ya?ml|csv|ndjson)$/.test(w) && !existsSync(join(ROOT, w))) problems.push(`${line}: no file ${w}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every command has --help with an example', () => {
  let out = '';
  const program = createProgram(defaultRegistry, { stdout: (t) => (out += t), stderr: () => undefined });
  const missing: string[] = [];
  for (const cmd of program.commands) {
    out = '';
    cmd.configureOutput({ writeOut: (t) => (out += t), writeErr: () => undefined });
    cmd.outputHelp();
    if (!/\nExample:\n {2}tributary /.test(out)) missing.push(cmd.name());
  }
  assert.ok(program.commands.length >= 12, program.commands.map((c) => c.name()).join(' '));
  assert.deepEqual(missing, []);
});
