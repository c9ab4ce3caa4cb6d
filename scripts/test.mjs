#!/usr/bin/env node
// What `npm test` runs after build and lint: every dist/test/**/*.test.js under `node --test`,
// with one real Kafka broker for the whole run when integration tests are among them.
//
//   node scripts/test.mjs                                   # everything
//   node scripts/test.mjs integration/kafka sessionize      # files whose path contains a filter
//   node scripts/test.mjs test/state/lmdb.test.ts --test-name-pattern=restore
//
// Filters may name the .ts source or the built .js; arguments starting with -- go to node.
// Environment: KAFKA_BROKERS (use that broker), REQUIRE_KAFKA=1 (no broker fails the run instead
// of skipping the integration tests, which then get TRIBUTARY_KAFKA_UNAVAILABLE=<reason>).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism, constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { obtainBroker } from './kafka-broker.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const nodeOptions = args.filter((a) => a.startsWith('--'));
const filters = args.filter((a) => !a.startsWith('--'))
  .map((f) => f.replaceAll('\\', '/').replace(/^\.\//, '').replace(/^dist\//, '').replace(/\.ts$/, '.js'));

/** Built test files whose .ts source still exists (tsc leaves deleted tests' output in dist/). */
function testFiles() {
  const dir = join(ROOT, 'dist', 'test');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => `test/${f.replaceAll('\\', '/')}`)
    .filter((f) => f.endsWith('.test.js') && existsSync(join(ROOT, f.replace(/\.js$/, '.ts'))))
    .filter((f) => filters.length === 0 || filters.some((filter) => f.includes(filter)))
    .sort()
    .map((f) => `dist/${f}`);
}

const files = testFiles();
if (files.length === 0) {
  console.error(filters.length
    ? `test: no dist/test/**/*.test.js matches ${filters.join(', ')} (run npm run build first?)`
    : 'test: no dist/test/**/*.test.js found (run npm run build first)');
  process.exit(1);
}

/** @type {import('./kafka-broker.mjs').ObtainedBroker | undefined} */
let broker;
/** @type {import('node:child_process').ChildProcess | undefined} */
let child;
/** @type {NodeJS.Signals | undefined} */
let interrupted;
const signalCode = (/** @type {NodeJS.Signals} */ s) => 128 + (constants.signals[s] ?? 1);

async function finish(/** @type {number} */ code) {
  await broker?.stop().catch((e) => console.error(`kafka: stopping the broker failed: ${e}`));
  process.exit(code);
}

for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(sig, () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(sig); // its exit stops the broker
    } else if (interrupted) {
      process.exit(signalCode(sig)); // second signal while the broker starts: give up at once
    } else {
      interrupted = sig; // the broker is starting: stop it once it is up
    }
  });
}

const env = { ...process.env };
if (files.some((f) => f.startsWith('dist/test/integration/'))) {
  try {
    broker = await obtainBroker({ log: (line) => console.error(line) });
    env.KAFKA_BROKERS = broker.brokers;
    delete env.TRIBUTARY_KAFKA_UNAVAILABLE;
    if (broker.how === 'env') console.error(`kafka: using KAFKA_BROKERS=${broker.brokers}`);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (process.env.REQUIRE_KAFKA === '1') {
      console.error(`test: REQUIRE_KAFKA=1 but ${reason}`);
      process.exit(1);
    }
    console.error(`test: integration tests will be skipped: ${reason}`);
    env.TRIBUTARY_KAFKA_UNAVAILABLE = reason.split('\n')[0];
  }
}
if (interrupted) await finish(signalCode(interrupted));

// Two at a time on 2 cores: integration tests mostly wait on the broker, which needs CPU too.
const concurrency = Math.max(2, availableParallelism());
child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...nodeOptions, ...files],
  { cwd: ROOT, env, stdio: 'inherit' });
child.once('exit', (code, signal) => { void finish(code ?? (signal ? signalCode(signal) : 1)); });
