#!/usr/bin/env node
import { runCli } from '../lib/cli/program.js';
import { defaultRegistry } from '../operators/index.js';

const code = await runCli(process.argv.slice(2), defaultRegistry, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});
process.exitCode = code;
