#!/usr/bin/env node
// A stop signal that comes while the modules load (seconds on a busy machine) is held until the
// command is known: `tributary run` then stops at once, cleanly (exit 0), as it would a moment
// later; any other command gets the signal as if nothing had held it.
const early: NodeJS.Signals[] = [];
const hold = (signal: NodeJS.Signals) => early.push(signal);
process.on('SIGTERM', hold);
process.on('SIGINT', hold);

const { runCli } = await import('../lib/cli/program.js');
const { defaultRegistry } = await import('../operators/index.js');

// A reader that closes the pipe early (`tributary generate … | head`) ends the command quietly,
// as Unix tools do, instead of an EPIPE error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

const argv = process.argv.slice(2);
process.off('SIGTERM', hold);
process.off('SIGINT', hold);
if (early.length > 0 && argv[0] !== 'run') process.kill(process.pid, early[0]);
const code = await runCli(argv, defaultRegistry, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stopRequested: () => early.length > 0,
});
process.exitCode = code;
// A run against Kafka whose stop left a hanging client step behind (a kafkajs disconnect that never
// returns; lib/runtime/kafka/stop-deadline.ts) may also leave its socket or timers: the run has
// ended and said so, so the process ends too. Unreferenced: it never delays a normal exit.
if (argv[0] === 'run') setTimeout(() => process.exit(), 5000).unref();
