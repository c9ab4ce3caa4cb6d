#!/usr/bin/env node
import { runCli } from '../lib/cli/program.js';
import { defaultRegistry } from '../operators/index.js';

// A reader that closes the pipe early (`tributary generate … | head`) ends the command quietly,
// as Unix tools do, instead of an EPIPE error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

const code = await runCli(process.argv.slice(2), defaultRegistry, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});
process.exitCode = code;
